import os
from pathlib import Path

import pytest

os.environ.setdefault("GRAPHNET_VERIFY", "1")  # every compilation in the tests is verified
# Compiled kernels shared by the test workers and kept between runs, inside the checkout.
os.environ.setdefault("GRAPHNET_CACHE_DIR", str(Path(__file__).parents[1] / "build" / "cache"))

import graphnet as gn


@pytest.fixture(autouse=True)
def fresh_default_graph():
    """Each test starts on an empty default graph."""
    gn.reset_default_graph()
    yield
    gn.reset_default_graph()
