"""Training: optimizers, initializers, regularizers, schedules, Saver, gradient checking."""

from graphnet.train.gradient_check import (
    GradientCheckReport as GradientCheckReport,
    check_gradients as check_gradients,
    numeric_gradient as numeric_gradient,
    relative_error as relative_error,
)
from graphnet.train.saver import (
    CheckpointError as CheckpointError,
    CheckpointState as CheckpointState,
    Saver as Saver,
    checkpoint_exists as checkpoint_exists,
    get_checkpoint_state as get_checkpoint_state,
    latest_checkpoint as latest_checkpoint,
    list_variables as list_variables,
    load_variable as load_variable,
)
