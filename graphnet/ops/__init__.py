"""Op definitions (OpDef + builder functions), one module per family. Imports ir only."""

from graphnet.ops import (  # noqa: F401  (importing a family registers its ops)
    array,
    control,
    conv,
    fused,
    losses,
    math,
    nn,
    operators,
    random,
    rnn,
    slicing,
    state,
)
from graphnet.ops.registry import OPS as OPS, OpDef as OpDef, get_op as get_op
