"""The public API behind `import graphnet as gn`: every name `graphnet` exports, imported
on first use by graphnet/__init__.py."""

from graphnet import (
    compiler as compiler,
    losses as losses,
    nn as nn,
    test as test,
    train as train,
)
from graphnet.autodiff import gradients as gradients
from graphnet.ir import (
    DType as DType,
    DTypeError as DTypeError,
    FailedPreconditionError as FailedPreconditionError,
    FeedError as FeedError,
    FetchError as FetchError,
    GradientError as GradientError,
    Graph as Graph,
    GraphError as GraphError,
    GraphKeys as GraphKeys,
    GraphnetError as GraphnetError,
    Node as Node,
    OpError as OpError,
    PlanFileError as PlanFileError,
    ShapeError as ShapeError,
    Tensor as Tensor,
    as_dtype as as_dtype,
)
from graphnet.ir.graph import (
    add_to_collection as add_to_collection,
    control_dependencies as control_dependencies,
    get_collection as get_collection,
    get_collection_ref as get_collection_ref,
    get_default_graph as get_default_graph,
    get_default_session as get_default_session,
    name_scope as name_scope,
    reset_default_graph as reset_default_graph,
    set_random_seed as set_random_seed,
)
from graphnet.ir.types import (
    bool_ as bool,  # noqa: A004, F401 - TF's name, as tf.bool
    float32 as float32,
    float64 as float64,
    int32 as int32,
    int64 as int64,
)
from graphnet.ops.array import *
from graphnet.ops.control import *
from graphnet.ops.core import constant as constant, convert_to_tensor as convert_to_tensor
from graphnet.ops.math import *
from graphnet.ops.random import *
from graphnet.ops.rnn import (
    clip_by_global_norm as clip_by_global_norm,
    clip_by_norm as clip_by_norm,
    global_norm as global_norm,
)
from graphnet.ops.slicing import *
from graphnet.ops.state import *
from graphnet.runtime import Session as Session, SessionConfig as SessionConfig
from graphnet.train import initializers as initializers, regularizers as regularizers
from graphnet.train.initializers import (
    constant_initializer as constant_initializer,
    glorot_normal_initializer as glorot_normal_initializer,
    glorot_uniform_initializer as glorot_uniform_initializer,
    ones_initializer as ones_initializer,
    orthogonal_initializer as orthogonal_initializer,
    random_normal_initializer as random_normal_initializer,
    random_uniform_initializer as random_uniform_initializer,
    truncated_normal_initializer as truncated_normal_initializer,
    variance_scaling_initializer as variance_scaling_initializer,
    zeros_initializer as zeros_initializer,
)
