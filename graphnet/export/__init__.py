"""Exporting compiled inference plans to plan files (ONNX import and export: export.onnx).

`gn.export.save_plan(sess, fetches, feeds, path)` freezes a Session's variables, compiles the
fetches for inference and writes one file that `gn.runtime.load_plan` runs without the graph
builder; `write_plan` writes an inference Plan compiled some other way.
"""

from graphnet.export.plan_file import save_plan as save_plan, write_plan as write_plan
