"""gn.data: input pipelines (tf.data's Dataset), readers of the textbooks' image sets, the
textbooks' synthetic data, and preprocessing fitted on training data.

Everything here produces NumPy arrays to feed to a Session; nothing builds graph nodes.
"""

from graphnet.data.dataset import (
    AUTOTUNE as AUTOTUNE,
    INFINITE_CARDINALITY as INFINITE_CARDINALITY,
    UNKNOWN_CARDINALITY as UNKNOWN_CARDINALITY,
    Dataset as Dataset,
)
from graphnet.data.errors import (
    DataError as DataError,
    DataNotFoundError as DataNotFoundError,
    OptionalDependencyError as OptionalDependencyError,
)
from graphnet.data.loaders import (
    CIFAR10_CLASSES as CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES as FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR as FASHION_MNIST_DIR,
    load_cifar10 as load_cifar10,
    load_cifar10_batch as load_cifar10_batch,
    load_digits as load_digits,
    load_fashion_mnist as load_fashion_mnist,
    load_idx as load_idx,
    load_mnist as load_mnist,
)
from graphnet.data.preprocessing import PCA as PCA, Standardizer as Standardizer
from graphnet.data.split import train_test_split as train_test_split
from graphnet.data.synthetic import (
    make_growing_oscillations as make_growing_oscillations,
    make_linearly_separable as make_linearly_separable,
    make_sine_sequences as make_sine_sequences,
    make_spirals as make_spirals,
    make_xor as make_xor,
    oscillation_features as oscillation_features,
)
