"""gn.keras: Keras 2's API (Sequential and functional models, layers, compile / fit / evaluate /
predict / summary, callbacks) on graphnet's graphs and Sessions.

Each model owns a gn.Graph and a gn.Session; its layers build gn ops (gn.nn.conv2d, gn.matmul,
gn.nn.fused_batch_norm, gn.nn.static_rnn, ...) in it, and a boolean training flag (False unless
fit feeds True) switches Dropout and BatchNormalization between training and inference.
"""

from graphnet.keras import (
    activations as activations,
    backend as backend,
    callbacks as callbacks,
    initializers as initializers,
    layers as layers,
    losses as losses,
    metrics as metrics,
    models as models,
    optimizers as optimizers,
    regularizers as regularizers,
    utils as utils,
)
from graphnet.keras.layer import Input as Input
from graphnet.keras.model import Model as Model
from graphnet.keras.sequential import Sequential as Sequential

__all__ = [
    "Input", "Model", "Sequential", "activations", "backend", "callbacks", "initializers",
    "layers", "losses", "metrics", "models", "optimizers", "regularizers", "utils",
]  # fmt: skip
