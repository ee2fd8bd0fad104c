"""Op definitions (OpDef + builder functions), one module per family. Imports ir only."""

from graphnet.ops import (  # noqa: F401  (registration order: a family may use earlier ones)
    array,
    control,
    conv,
    losses,
    math,
    nn,
    operators,
    random,
    rnn,
    state,
)
from graphnet.ops.registry import OPS as OPS, OpDef as OpDef, get_op as get_op
