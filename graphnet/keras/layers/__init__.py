"""gn.keras.layers: Keras' layers, building gn ops (NHWC images)."""

from graphnet.keras.layer import Input as Input, InputLayer as InputLayer, Layer as Layer
from graphnet.keras.layers.convolutional import (
    Conv2D as Conv2D,
    Conv2DTranspose as Conv2DTranspose,
    DepthwiseConv2D as DepthwiseConv2D,
    SeparableConv2D as SeparableConv2D,
    ZeroPadding2D as ZeroPadding2D,
)
from graphnet.keras.layers.core import (
    Activation as Activation,
    Dense as Dense,
    Dropout as Dropout,
    Embedding as Embedding,
    Flatten as Flatten,
    Lambda as Lambda,
    LeakyReLU as LeakyReLU,
    ReLU as ReLU,
    Reshape as Reshape,
)
from graphnet.keras.layers.merge import (
    Add as Add,
    Average as Average,
    Concatenate as Concatenate,
    Maximum as Maximum,
    Minimum as Minimum,
    Multiply as Multiply,
    Subtract as Subtract,
    add as add,
    average as average,
    concatenate as concatenate,
    maximum as maximum,
    minimum as minimum,
    multiply as multiply,
    subtract as subtract,
)
from graphnet.keras.layers.normalization import BatchNormalization as BatchNormalization
from graphnet.keras.layers.pooling import (
    AveragePooling2D as AveragePooling2D,
    AvgPool2D as AvgPool2D,
    GlobalAveragePooling2D as GlobalAveragePooling2D,
    GlobalAvgPool2D as GlobalAvgPool2D,
    GlobalMaxPool2D as GlobalMaxPool2D,
    GlobalMaxPooling2D as GlobalMaxPooling2D,
    MaxPool2D as MaxPool2D,
    MaxPooling2D as MaxPooling2D,
)
from graphnet.keras.layers.recurrent import (
    GRU as GRU,
    LSTM as LSTM,
    Bidirectional as Bidirectional,
    SimpleRNN as SimpleRNN,
)
