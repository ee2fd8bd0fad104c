"""Checks that every CUDA kernel the tests launch compiles for a real GPU, without needing one.

Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1) runs kernels as Python, so code the real CUDA
target cannot type or lower passes the tests there. This script

1. runs a pytest selection in-process under the simulator (default: tests/backends/cuda and
   tests/ops) with a hook on the simulator's kernel launch that records, for every launch, the
   kernel's Python function (module and qualified name; generated kernels are the `gn_cuda_*`
   modules of the graphnet cache) and the Numba types of its arguments, de-duplicated;
2. then, in a subprocess without the simulator, compiles each recorded (kernel, signature) to
   PTX with `numba.cuda.compile_ptx` for compute capability 8.0 (with the kernel's fastmath
   option) and reports every failure with its exception. Device functions are compiled as
   the kernels call them; kernels made by a factory (closures) are rebuilt from their code and
   closure cells.

Real PTX needs NVVM, which numba-cuda finds through cuda-pathfinder in the CUDA wheels:
`pip install "cuda-toolkit[nvcc,nvrtc]==13.*"` (no GPU or driver needed). Run from the
repository root:

    python scripts/cuda_compile_check.py                      # default selection
    python scripts/cuda_compile_check.py tests/ops/test_nn.py -k softmax   # pytest arguments
    python scripts/cuda_compile_check.py --signatures sigs.pkl   # reuse a recording

The exit status is 0 when every recorded kernel compiled, 1 otherwise.
"""

from __future__ import annotations

import argparse
import marshal
import os
import pickle
import subprocess
import sys
import tempfile
import traceback
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TESTS = ["tests/backends/cuda", "tests/ops"]
COMPUTE_CAPABILITY = (8, 0)

#: How to rebuild a kernel's Python function in another process: (module, qualified name,
#: None, None, None) for a module-level function; for a closure (a kernel made by a factory)
#: also its marshalled code, defaults and closure cells (each ("jit", spec, device, fastmath)
#: for a @cuda.jit function, else ("value", the value)).
Spec = tuple[str, str, bytes | None, Any, Any]
#: (kernel spec, argument types, fastmath) of one kernel launch.
Record = tuple[Spec, tuple[Any, ...], bool]


def _arg_type(arg: Any) -> Any:
    """The Numba type the real CUDA target gives a launch argument (the simulator's device
    arrays wrap a NumPy array; their layout is taken like a real device array's)."""
    import numba
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

    if isinstance(arg, FakeCUDAArray):
        return numba.typeof(arg._ary)
    return numba.typeof(arg)


def _spec(fn: Any) -> Spec:
    """How to rebuild the (simulator's) Python function `fn` under the real target."""
    if "<locals>" not in fn.__qualname__:
        return (fn.__module__, fn.__qualname__, None, None, None)
    from numba.cuda.simulator.kernel import FakeCUDAKernel

    cells = []
    for cell in fn.__closure__ or ():
        value = cell.cell_contents
        if isinstance(value, FakeCUDAKernel):
            cells.append(("jit", _spec(value.fn), value._device, bool(value._fastmath)))
        else:
            cells.append(("value", value))
    code = marshal.dumps(fn.__code__)
    return (fn.__module__, fn.__qualname__, code, fn.__defaults__, tuple(cells))


def record(pytest_args: list[str]) -> tuple[int, list[Record]]:
    """Runs pytest under the simulator with the launch hook; (pytest's exit code, records)."""
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    import pytest
    from numba.cuda.simulator import kernel as sim

    seen: dict[tuple[Any, ...], Record] = {}
    call = sim.FakeCUDAKernel.__call__

    def hooked(self: Any, *args: Any) -> Any:
        if not self._device and not sim._kernel_context:
            arg_types = tuple(_arg_type(a) for a in args)
            key = (self.fn, arg_types, bool(self._fastmath))
            if key not in seen:
                seen[key] = (_spec(self.fn), arg_types, bool(self._fastmath))
        return call(self, *args)

    sim.FakeCUDAKernel.__call__ = hooked
    try:
        code = pytest.main(["-q", "-p", "no:cacheprovider", *pytest_args])
    finally:
        sim.FakeCUDAKernel.__call__ = call
    unique = {pickle.dumps(rec): rec for rec in seen.values()}  # equal closures of a factory
    return int(code), sorted(unique.values(), key=_describe)


def _build(spec: Spec) -> Any:
    """The Python function of a kernel spec, in this (real-target) process."""
    from numba import cuda

    from graphnet.backends.cpu.cache import resolve

    module, qualname, code, defaults, cells = spec
    if code is None:
        obj = resolve(module, qualname.split(".")[0])
        for part in qualname.split(".")[1:]:
            obj = getattr(obj, part)
        return getattr(obj, "py_func", obj)
    closure = []
    for cell in cells:
        if cell[0] == "jit":
            _, inner, device, fastmath = cell
            jit = cuda.jit(device=device, fastmath=fastmath)
            closure.append(types.CellType(jit(_build(inner))))
        else:
            closure.append(types.CellType(cell[1]))
    fn_code = marshal.loads(code)
    namespace = resolve(module, "__dict__")
    return types.FunctionType(fn_code, namespace, fn_code.co_name, defaults, tuple(closure))


def compile_all(records: list[Record]) -> list[tuple[Record, str]]:
    """Compiles each record to PTX for the real target; the failures with their error."""
    from numba import cuda
    from numba.cuda import dispatcher

    # No device is used: pass the backend's import check, and compile device functions (which
    # ask the current device for its compute capability) for the target's.
    cuda.is_available = lambda: True
    fake_device = types.SimpleNamespace(compute_capability=COMPUTE_CAPABILITY)
    dispatcher.get_current_device = lambda: fake_device
    import graphnet.backends.cuda  # noqa: F401  (registers kernels, sets up the cache)

    failures = []
    for rec in records:
        spec, arg_types, fastmath = rec
        try:
            cuda.compile_ptx(_build(spec), arg_types, cc=COMPUTE_CAPABILITY, fastmath=fastmath)
        except Exception as exc:  # every failure is reported
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            failures.append((rec, detail))
    return failures


def _say(text: str) -> None:
    print(text, flush=True)  # noqa: T201  (a command-line tool)


def _describe(rec: Record) -> str:
    (module, qualname, *_), arg_types, _ = rec
    return f"{module}.{qualname}({', '.join(map(str, arg_types))})"


def _compile_in_subprocess(path: Path) -> int:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    cmd = [sys.executable, __file__, "--compile", str(path)]
    return subprocess.run(cmd, env=env, cwd=ROOT, check=False).returncode


def _compile_main(path: Path) -> int:
    with open(path, "rb") as f:
        records: list[Record] = pickle.load(f)
    failures = compile_all(records)
    kernels = {spec[:2] for spec, _, _ in records}  # a factory's closures count once
    _say(
        f"compiled {len(records)} signatures of {len(kernels)} kernel functions for sm_80: "
        f"{len(failures)} failed"
    )
    for rec, detail in failures:
        _say(f"\nFAIL {_describe(rec)}\n  {detail.replace(chr(10), chr(10) + '  ')}")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--signatures", type=Path, help="compile the records saved in this file")
    parser.add_argument("--save", type=Path, help="save the recorded signatures to this file")
    args, pytest_args = parser.parse_known_args()
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("GRAPHNET_CACHE_DIR", str(ROOT / "build" / "cache"))
    if args.compile:
        return _compile_main(args.compile)
    if args.signatures:
        return _compile_in_subprocess(args.signatures)
    code, records = record(pytest_args or DEFAULT_TESTS)
    _say(f"\npytest exit code {code}; recorded {len(records)} kernel signatures")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.save or Path(tmp) / "signatures.pkl"
        with open(path, "wb") as f:
            pickle.dump(records, f)
        return _compile_in_subprocess(path) or (1 if code else 0)


if __name__ == "__main__":
    sys.exit(main())
