"""gn.nn: neural-network ops, per-example losses and recurrent networks (TF1's tf.nn)."""

from graphnet.ops.conv import *
from graphnet.ops.losses import *
from graphnet.ops.math import sigmoid as sigmoid, tanh as tanh
from graphnet.ops.nn import *
from graphnet.ops.rnn import *
