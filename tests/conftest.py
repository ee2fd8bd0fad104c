import os

import pytest

os.environ.setdefault("GRAPHNET_VERIFY", "1")  # every compilation in the tests is verified

import graphnet as gn


@pytest.fixture(autouse=True)
def fresh_default_graph():
    """Each test starts on an empty default graph."""
    gn.reset_default_graph()
    yield
    gn.reset_default_graph()
