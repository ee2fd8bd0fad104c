"""Training: optimizers, initializers, regularizers, schedules, Saver, gradient checking."""

from graphnet.train.gradient_check import (
    check_gradients as check_gradients,
    numeric_gradient as numeric_gradient,
    relative_error as relative_error,
)
