"""The layers of DESIGN.md import only what they may: a lower layer never imports a higher one."""

import ast
from pathlib import Path

import graphnet

ROOT = Path(graphnet.__file__).parent

# layer -> the graphnet layers it may import (itself always allowed)
ALLOWED = {
    "ir": set(),
    "ops": {"ir"},
    "autodiff": {"ir", "ops"},
    "compiler": {"ir", "ops"},
    "backends": {"ir", "ops", "compiler"},
    "runtime": {"ir", "ops", "compiler", "backends"},
    "inspect": {"ir", "ops", "compiler"},
    "train": {"ir", "ops", "autodiff", "compiler", "backends", "runtime"},
    "keras": {"ir", "ops", "autodiff", "compiler", "backends", "runtime", "train", "losses"},
    "plot": {"ir"},
    "data": {"ir"},
    "export": {"ir", "ops", "autodiff", "compiler", "backends", "runtime"},
}

#: modules every layer may import
ANYONE = ("lazy",)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("graphnet"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("graphnet"))
    return found


def test_no_layer_imports_a_higher_one():
    violations = []
    for layer, allowed in ALLOWED.items():
        paths = (
            [ROOT / f"{layer}.py"]
            if (ROOT / f"{layer}.py").exists()
            else ROOT.glob(f"{layer}/**/*.py")
        )
        for path in paths:
            for module in _imports(path):
                target = _layer(module)
                if target and target not in (layer, *ANYONE) and target not in allowed:
                    violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not violations, "\n".join(violations)
