"""gn.nn: neural-network ops, per-example losses and recurrent networks (TF1's tf.nn)."""

from graphnet.ops.conv import *  # noqa: F403
from graphnet.ops.losses import *  # noqa: F403
from graphnet.ops.math import sigmoid as sigmoid, tanh as tanh
from graphnet.ops.nn import *  # noqa: F403
from graphnet.ops.rnn import *  # noqa: F403
