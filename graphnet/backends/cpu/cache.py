"""Where the CPU backend keeps what it compiles: generated sources and Numba's cache.

The cache directory is `GRAPHNET_CACHE_DIR`, else `~/.cache/graphnet`, read once when the
backend is imported. Numba's on-disk cache goes to its `numba/` folder unless the user set
`NUMBA_CACHE_DIR`. Generated kernels and whole-plan functions are Python modules written to
`generated/gn_<kind>_<content hash>.py`: a file is never rewritten (Numba keys its cache on the
file's modification time), so a second process imports the same file and loads the machine
code Numba saved for it instead of compiling again.

Every generated source carries a fingerprint of this package's own sources, so a change of a
kernel the generated code calls gives new file names rather than stale machine code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import tempfile
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

CACHE_ENV = "GRAPHNET_CACHE_DIR"
GENERATED_PREFIX = "gn_"


@cache
def cache_dir() -> Path:
    """The cache directory (created on first use)."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "graphnet")
    (root / "generated").mkdir(parents=True, exist_ok=True)
    return root


def configure_numba() -> None:
    """Points Numba's cache into the cache directory unless the user chose one; called once,
    before any kernel module is imported (Numba reads the setting as functions are decorated)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    os.environ["NUMBA_CACHE_DIR"] = str(cache_dir() / "numba")
    if "numba" in sys.modules:  # imported before us: make it read the variable again
        from numba.core import config

        config.reload_config()


@cache
def fingerprint(backend: str = "cpu") -> str:
    """A digest of a Numba backend's sources (graphnet.backends.<backend>), stamped into the
    modules generated for it."""
    digest = hashlib.sha256()
    for path in sorted((Path(__file__).parents[1] / backend).glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _stamped(kind: str, source: str, backend: str = "cpu") -> tuple[str, str]:
    """(module name, file text) of a generated source."""
    text = f"# graphnet generated code; package fingerprint {fingerprint(backend)}\n{source}"
    return f"{GENERATED_PREFIX}{kind}_{hashlib.sha256(text.encode()).hexdigest()[:24]}", text


def is_cached(kind: str, source: str) -> bool:
    """Whether `source` was written to the cache before (by this process or an earlier one)."""
    return _path(_stamped(kind, source)[0]).exists()


def load_source(kind: str, source: str, backend: str = "cpu") -> ModuleType:
    """The module of a generated `source`, written to the cache under its content hash (once)
    and imported; `kind` names the family in the file name (`ew`, `plan`, ...), `backend` the
    package whose sources it calls (its fingerprint goes into the file)."""
    name, text = _stamped(kind, source, backend)
    module = sys.modules.get(name)
    if module is not None:
        return module
    path = _path(name)
    if not path.exists():
        _write_once(path, text)
    return _import(name, path)


def resolve(module: str, name: str) -> Any:
    """`module.name`, for a package module or a generated one (generated source refers to
    kernels this way)."""
    if module.startswith(GENERATED_PREFIX):
        return getattr(sys.modules.get(module) or _import(module, _path(module)), name)
    return getattr(importlib.import_module(module), name)


def _path(name: str) -> Path:
    return cache_dir() / "generated" / f"{name}.py"


def _write_once(path: Path, text: str) -> None:
    """Writes `path` unless another process got there first: a hard link of a finished
    temporary file never replaces an existing one (a rename only where links are not
    supported)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:
            if not path.exists():
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _import(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
