"""ONNX interop: `import_model` (ONNX -> graphnet graph) and `export` (a session's inference
graph -> ONNX). Needs the optional `onnx` package: pip install graphnet[onnx]."""

try:
    import onnx as _onnx  # noqa: F401 - checked here so the error names the extra
except ImportError as err:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "graphnet.export.onnx needs the onnx package; install it with "
        "`pip install graphnet[onnx]` (onnx and onnxruntime)"
    ) from err

from graphnet.export.onnx import (  # noqa: F401 - they register the converters and emitters
    export_ops,
    import_array,
    import_nn,
    import_ops,
)
from graphnet.export.onnx.exporter import OnnxExportError as OnnxExportError, export as export
from graphnet.export.onnx.importer import (
    OnnxImportError as OnnxImportError,
    import_model as import_model,
)

__all__ = ["OnnxExportError", "OnnxImportError", "export", "import_model"]
