"""Op definitions (OpDef + builder functions), one module per family. Imports ir only."""

from graphnet.ops import (  # noqa: F401  (registration order: a family may use earlier ones)
    array,
    math,
    control,
    state,
    random,
    nn,
    conv,
    losses,
    rnn,
    operators,
)
from graphnet.ops.registry import OPS as OPS, OpDef as OpDef, get_op as get_op
