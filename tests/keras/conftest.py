import pytest

import graphnet.keras as K


@pytest.fixture(autouse=True)
def fresh_keras_session():
    """Each test starts with fresh layer names ('dense', 'dense_1', ...) and seeded randomness."""
    K.backend.clear_session()
    K.utils.set_random_seed(0)
    yield
    K.backend.set_seed(None)
    K.backend.clear_session()


@pytest.fixture
def float64():
    """Layers and inputs in float64 (for comparisons against NumPy at tight tolerances)."""
    K.backend.set_floatx("float64")
    yield
    K.backend.set_floatx("float32")
