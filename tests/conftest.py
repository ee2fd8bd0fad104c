import os
from pathlib import Path

import pytest

os.environ.setdefault("GRAPHNET_VERIFY", "1")  # every compilation in the tests is verified
# Compiled kernels shared by the test workers and kept between runs, inside the checkout.
os.environ.setdefault("GRAPHNET_CACHE_DIR", str(Path(__file__).parents[1] / "build" / "cache"))
# Without an NVIDIA GPU the CUDA backend's tests run on Numba's CUDA simulator (set before
# numba.cuda is first imported); with one they run on the device, unchanged.
if not Path("/dev/nvidiactl").exists():
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import graphnet as gn


@pytest.fixture(autouse=True)
def fresh_default_graph():
    """Each test starts on an empty default graph."""
    gn.reset_default_graph()
    yield
    gn.reset_default_graph()
