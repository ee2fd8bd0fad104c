"""gn.test: testing utilities (TF1's tf.test): gradient checks against finite differences."""

from graphnet.train.gradient_check import (
    compute_gradient as compute_gradient,
    compute_gradient_error as compute_gradient_error,
)
