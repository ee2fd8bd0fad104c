"""The CUDA backend (numba.cuda): a kernel per op, generated kernels for elementwise trees,
one device arena per plan, variables kept on the device, one stream (see cuda.executable).

Importing it checks that CUDA can run here (cuda.device) and raises BackendError otherwise.
"""

from graphnet.backends.cpu.cache import configure_numba
from graphnet.backends.cuda.device import require_cuda

configure_numba()
require_cuda()

from graphnet.backends.cuda import (  # noqa: E402,F401  (importing registers the kernels)
    array,
    conv,
    elementwise,
    fused,
    gemm,
    nn,
    pool,
    reduce,
    state,
)
from graphnet.backends.cuda.executable import CudaBackend  # noqa: E402

BACKEND = CudaBackend()
