"""Training: optimizers, initializers, regularizers, schedules, Saver, gradient checking."""

from graphnet.train import initializers as initializers, regularizers as regularizers
from graphnet.train.gradient_check import (
    GradientCheckReport as GradientCheckReport,
    check_gradients as check_gradients,
    numeric_gradient as numeric_gradient,
    relative_error as relative_error,
)
from graphnet.train.optimizers import (
    AdadeltaOptimizer as AdadeltaOptimizer,
    AdagradOptimizer as AdagradOptimizer,
    AdamOptimizer as AdamOptimizer,
    AdamW as AdamW,
    AdamWOptimizer as AdamWOptimizer,
    DecoupledWeightDecayExtension as DecoupledWeightDecayExtension,
    GradientDescentOptimizer as GradientDescentOptimizer,
    MomentumOptimizer as MomentumOptimizer,
    Optimizer as Optimizer,
    OptimizerError as OptimizerError,
    RMSPropOptimizer as RMSPropOptimizer,
    extend_with_decoupled_weight_decay as extend_with_decoupled_weight_decay,
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
from graphnet.train.schedules import (
    ScheduleError as ScheduleError,
    assert_global_step as assert_global_step,
    cosine_decay as cosine_decay,
    cosine_decay_restarts as cosine_decay_restarts,
    create_global_step as create_global_step,
    exponential_decay as exponential_decay,
    get_global_step as get_global_step,
    get_or_create_global_step as get_or_create_global_step,
    global_step as global_step,
    inverse_time_decay as inverse_time_decay,
    natural_exp_decay as natural_exp_decay,
    piecewise_constant as piecewise_constant,
    polynomial_decay as polynomial_decay,
)
