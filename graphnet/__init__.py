"""graphnet: a static-computation-graph deep-learning framework with TF1's API.

import graphnet as gn
x = gn.placeholder(gn.float32, [None, 3])
y = x * 2
with gn.Session() as sess:
    print(sess.run(y, {x: [[1, 2, 3]]}))

The names come from graphnet.api, imported on first use: a deployment that imports only
`graphnet.runtime.loader` and a backend loads no graph builder, autodiff or compiler pass.
The larger namespaces — `gn.keras`, `gn.data`, `gn.inspect` (networkx), `gn.plot`,
`gn.export` (plan files), `gn.runtime` (load_plan) and `gn.onnx` (the `onnx` extra) — are
submodules imported on first use too, so `import graphnet` stays quick.
"""

from graphnet.lazy import lazy_exports

__version__ = "0.1.0"

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        name: f"graphnet.{name}"
        for name in ("data", "export", "inspect", "keras", "onnx", "plot", "runtime")
    },
    fallback="graphnet.api",
)
