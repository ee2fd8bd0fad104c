"""The text form of a graph: one line per node, `%name = op(%inputs) ^[%controls] {attrs} : types`.

Attribute values print as: strings in double quotes with backslash escapes, `true`/`false`/`none`,
ints, floats (repr, so exact; `inf`, `-inf`, `nan`), `[...]` for sequences, DTypes by short name
(`f32`) and arrays as `float32[2,3][1.,2.,3.,4.,5.,6.]` (shortest exact digits). Arrays bigger
than `inline_limit` elements are elided to `float32[256,256]<key>`, key being `constant_key`;
`elided_constants` maps the keys of a graph back to its arrays, which `parse_graph` accepts.
Node names that are not plain (letters, digits, `_.-/`) print quoted: `%"a name"`.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np

from graphnet.ir.graph import Graph, Node, Tensor
from graphnet.ir.types import DType, format_shape

MAX_INLINE_ELEMENTS = 8

PLAIN_NAME = re.compile(r"[A-Za-z0-9_.\-/]+")

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def format_string(text: str) -> str:
    """`text` in double quotes; backslash, quote and unprintable characters escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_name(name: str) -> str:
    """`%name`, quoted when the name has characters outside letters, digits and `_.-/`."""
    return f"%{name}" if PLAIN_NAME.fullmatch(name) else f"%{format_string(name)}"


def format_tensor_ref(t: Tensor) -> str:
    ref = format_name(t.node.name)
    return ref if t.index == 0 else f"{ref}:{t.index}"


def constant_key(value: np.ndarray) -> str:
    """A stable key of an array's dtype, shape and contents (a sha256 prefix)."""
    digest = hashlib.sha256(f"{value.dtype.str}{value.shape}".encode())
    digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()[:16]


def _format_elements(value: np.ndarray) -> str:
    with np.printoptions(
        precision=8, threshold=sys.maxsize, edgeitems=3, linewidth=sys.maxsize, suppress=False,
        nanstr="nan", infstr="inf", sign="-", floatmode="unique", legacy=False,
    ):  # fmt: skip
        text = np.array2string(value.ravel(), separator=",")
    return text.replace(" ", "").replace("\n", "")


def format_value(value: Any, inline_limit: int | None = MAX_INLINE_ELEMENTS) -> str:
    """One attribute value; arrays over `inline_limit` elements (None: never) are elided."""
    if isinstance(value, str):
        return format_string(value)
    if isinstance(value, bool | np.bool_) or value is None:
        return "none" if value is None else str(bool(value)).lower()
    if isinstance(value, tuple | list):
        return "[" + ",".join(format_value(v, inline_limit) for v in value) + "]"
    if isinstance(value, DType):
        return value.short
    if isinstance(value, np.ndarray):
        head = f"{value.dtype.name}{format_shape(value.shape)}"
        if inline_limit is None or value.size <= inline_limit:
            return head + _format_elements(value)
        return f"{head}<{constant_key(value)}>"
    return repr(value)


def format_node(node: Node, inline_limit: int | None = MAX_INLINE_ELEMENTS) -> str:
    lhs = ", ".join(format_tensor_ref(t) for t in node.outputs) or format_name(node.name)
    args = ", ".join(format_tensor_ref(t) for t in node.inputs)
    parts = [f"{lhs} = {node.type}({args})"]
    if node.control_inputs:
        parts.append("^[" + ", ".join(format_name(c.name) for c in node.control_inputs) + "]")
    if node.attrs:
        attrs = ", ".join(f"{k}={format_value(v, inline_limit)}" for k, v in node.attrs.items())
        parts.append("{" + attrs + "}")
    types = ", ".join(f"{t.dtype.short}{format_shape(t.shape)}" for t in node.outputs)
    return " ".join(parts) + (f" : {types}" if types else "")


def format_graph(
    graph: Graph,
    nodes: Iterable[Node] | None = None,
    inline_limit: int | None = MAX_INLINE_ELEMENTS,
) -> str:
    """The text form of `nodes` (default: all, in insertion order); arrays with more than
    `inline_limit` elements are elided to a key (None prints every array in full)."""
    chosen = graph.nodes if nodes is None else nodes
    return "\n".join(format_node(n, inline_limit) for n in chosen)


def elided_constants(
    graph: Graph, inline_limit: int | None = MAX_INLINE_ELEMENTS
) -> dict[str, np.ndarray]:
    """key -> array for every attribute array that format_graph elides (parse_graph's
    `constants=`)."""
    found: dict[str, np.ndarray] = {}

    def collect(value: Any) -> None:
        if isinstance(value, tuple):
            for v in value:
                collect(v)
        elif isinstance(value, np.ndarray) and inline_limit is not None:
            if value.size > inline_limit:
                found[constant_key(value)] = value

    for node in graph.nodes:
        for value in node.attrs.values():
            collect(value)
    return found
