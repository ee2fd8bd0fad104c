"""`gn.onnx`: ONNX import and export (graphnet.export.onnx); needs `pip install graphnet[onnx]`."""

from graphnet.export.onnx import (
    OnnxExportError as OnnxExportError,
    OnnxImportError as OnnxImportError,
    export as export,
    import_model as import_model,
)
