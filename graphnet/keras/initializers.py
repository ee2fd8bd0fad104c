"""gn.keras.initializers: Keras' initializers (graphnet.train.initializers under their Keras
names): `get("glorot_uniform")`, `HeNormal(seed=1)`, ... each `init(shape, dtype)` -> Tensor."""

from graphnet.train.initializers import (
    Constant as Constant,
    GlorotNormal as GlorotNormal,
    GlorotUniform as GlorotUniform,
    HeNormal as HeNormal,
    HeUniform as HeUniform,
    Identity as Identity,
    Initializer as Initializer,
    LecunNormal as LecunNormal,
    LecunUniform as LecunUniform,
    Ones as Ones,
    Orthogonal as Orthogonal,
    RandomNormal as RandomNormal,
    RandomUniform as RandomUniform,
    TruncatedNormal as TruncatedNormal,
    VarianceScaling as VarianceScaling,
    Zeros as Zeros,
    deserialize as deserialize,
    get as get,
    serialize as serialize,
)
