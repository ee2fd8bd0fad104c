"""gn.keras.regularizers: Keras' weight penalties (graphnet.train.regularizers): `get("l2")`,
`L2(0.01)`, ... each `reg(weights)` -> a scalar Tensor added to the model's loss."""

from graphnet.train.regularizers import (
    L1 as L1,
    L1L2 as L1L2,
    L2 as L2,
    Regularizer as Regularizer,
    deserialize as deserialize,
    get as get,
    l1 as l1,
    l1_l2 as l1_l2,
    l2 as l2,
    serialize as serialize,
)
