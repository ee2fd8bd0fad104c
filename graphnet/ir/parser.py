"""Reading the text form back: `parse_graph(format_graph(g))` rebuilds g, names and types included.

The grammar, one node per line (blank lines and `//` comment lines are skipped):

    node   := refs "=" op "(" [ref {"," ref}] ")" ["^[" [name {"," name}] "]"]
              ["{" [key "=" value {"," key "=" value}] "}"] [":" type {"," type}]
    ref    := name [":" int]          name := "%" (plain | string)
    value  := string | true | false | none | int | float | inf | -inf | nan
              | "[" [value {"," value}] "]" | dtype | array
    array  := numpy-dtype shape ("[" elements "]" | "<" key ">")
    type   := dtype shape             shape := "[" ("*" | [dim {"," dim}]) "]", dim := int | "?"

Parsing checks what it can without the op registry (ir imports no ops): names defined before
use, output refs and types consistent. `infer` (op, inputs, attrs) -> output types, given by
layers that know the ops, also checks each node's types against its op's shape rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graphnet.ir.errors import GraphError, ShapeError
from graphnet.ir.graph import Attrs, Graph, Node, Tensor
from graphnet.ir.printer import PLAIN_NAME, constant_key
from graphnet.ir.types import ALL_DTYPES, DType, Shape, format_shape, merge_shapes

OutputTypes = Sequence[tuple[DType, Shape | None]]
Infer = Callable[[str, Sequence[Tensor], Attrs], OutputTypes]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(?:\d+\.\d*|\d+)(?:[eE][+-]?\d+)?")
_INT = re.compile(r"\d+")
_ELEMENT = re.compile(r"[^,\]]+")
_KEY = re.compile(r"[0-9a-f]+")
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


class ParseError(GraphError):
    """Malformed graph text; `line` and `column` (1-based) locate the problem."""

    def __init__(self, message: str, line: int, column: int, source: str) -> None:
        self.line = line
        self.column = column
        super().__init__(
            f"line {line}, column {column}: {message}\n    {source}\n    {' ' * (column - 1)}^"
        )


class _Cursor:
    """A position in one line of text, skipping spaces between tokens."""

    def __init__(self, text: str, line: int) -> None:
        self.text = text
        self.line = line
        self.pos = 0

    def error(self, message: str, pos: int | None = None) -> ParseError:
        return ParseError(message, self.line, (self.pos if pos is None else pos) + 1, self.text)

    def skip(self) -> int:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1
        return self.pos

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos : self.pos + 1]

    def accept(self, token: str) -> bool:
        if self.text.startswith(token, self.skip()):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str, what: str = "") -> None:
        if not self.accept(token):
            found = self.text[self.pos : self.pos + 12] or "the end of the line"
            raise self.error(f"expected {what or repr(token)}, found {found!r}")

    def match(self, pattern: re.Pattern[str], what: str) -> str:
        m = pattern.match(self.text, self.skip())
        if m is None:
            found = self.text[self.pos : self.pos + 12] or "the end of the line"
            raise self.error(f"expected {what}, found {found!r}")
        self.pos = m.end()
        return m.group()

    def at_end(self) -> bool:
        return self.skip() == len(self.text)


# -- values ------------------------------------------------------------------------------------


def _string(c: _Cursor) -> str:
    start = c.skip()
    c.expect('"')
    out = []
    while True:
        if c.pos >= len(c.text):
            raise c.error("unterminated string", start)
        ch = c.text[c.pos]
        c.pos += 1
        if ch == '"':
            return "".join(out)
        if ch != "\\":
            out.append(ch)
            continue
        esc = c.text[c.pos : c.pos + 1]
        c.pos += 1
        if esc in _UNESCAPE:
            out.append(_UNESCAPE[esc])
        elif esc in ("u", "U"):
            digits = c.text[c.pos : c.pos + (4 if esc == "u" else 8)]
            if len(digits) != (4 if esc == "u" else 8) or not all(
                d in "0123456789abcdefABCDEF" for d in digits
            ):
                raise c.error(f"bad \\{esc} escape", c.pos - 2)
            out.append(chr(int(digits, 16)))
            c.pos += len(digits)
        else:
            raise c.error(f"unknown escape \\{esc}", c.pos - 2)


def _name(c: _Cursor) -> tuple[str, int]:
    """`%name` or `%"quoted name"`; returns the name and where it starts."""
    start = c.skip()
    c.expect("%", "a name starting with '%'")
    if c.text.startswith('"', c.pos):
        return _string(c), start
    m = PLAIN_NAME.match(c.text, c.pos)
    if m is None:
        raise c.error("expected a node name after '%'")
    c.pos = m.end()
    return m.group(), start


def _ref(c: _Cursor) -> tuple[str, int, int]:
    """`%name` or `%name:k`: the name, the output index and where the ref starts."""
    name, start = _name(c)
    index = 0
    if c.text.startswith(":", c.pos):
        c.pos += 1
        index = int(c.match(_INT, "an output index after ':'"))
    return name, index, start


def _shape(c: _Cursor, allow_unknown: bool) -> Shape | None:
    c.expect("[")
    if allow_unknown and c.accept("*"):
        c.expect("]")
        return None
    dims: list[int | None] = []
    while not c.accept("]"):
        if dims:
            c.expect(",", "',' or ']'")
        if allow_unknown and c.accept("?"):
            dims.append(None)
        else:
            dims.append(int(c.match(_INT, "a dimension")))
    return tuple(dims)


def _array(c: _Cursor, dtype_name: str, start: int, constants: Mapping[str, np.ndarray]) -> Any:
    try:
        dtype = np.dtype(dtype_name)
    except TypeError:
        raise c.error(f"unknown array dtype {dtype_name!r}", start) from None
    shape = _shape(c, allow_unknown=False)
    assert shape is not None
    head = f"{dtype_name}{format_shape(shape)}"
    if c.accept("<"):
        key = c.match(_KEY, "a constant key")
        c.expect(">")
        if key not in constants:
            raise c.error(
                f"the value of {head}<{key}> is elided in the text; pass it in constants= "
                "(printer.elided_constants gives them)",
                start,
            )
        value = constants[key]
        if value.dtype != dtype or value.shape != shape or constant_key(value) != key:
            raise c.error(f"constants[{key!r}] is not the {head} array the text names", start)
        return value
    c.expect("[")
    elements: list[str] = []
    while not c.accept("]"):
        if elements:
            c.expect(",", "',' or ']'")
        elements.append(c.match(_ELEMENT, "an array element").strip())
    count = int(np.prod(shape, dtype=np.int64))
    if len(elements) != count:
        raise c.error(f"{head} needs {count} elements, the text has {len(elements)}", start)
    try:
        if dtype.kind == "b":
            values: list[Any] = [_bool_element(e) for e in elements]
        elif dtype.kind in "iu":
            values = [int(e) for e in elements]
        else:
            values = [float(e) for e in elements]
    except ValueError as err:
        raise c.error(f"bad element of {head}: {err}", start) from None
    arr = np.array(values, dtype=dtype).reshape(shape)
    arr.flags.writeable = False
    return arr


def _bool_element(text: str) -> bool:
    if text not in ("True", "False"):
        raise ValueError(f"{text!r} is not True or False")
    return text == "True"


_SHORT_DTYPES = {d.short: d for d in ALL_DTYPES}
_WORDS = {"true": True, "false": False, "none": None, "inf": float("inf"), "nan": float("nan")}


def _value(c: _Cursor, constants: Mapping[str, np.ndarray]) -> Any:
    start = c.skip()
    ch = c.peek()
    if ch == '"':
        return _string(c)
    if ch == "[":
        c.pos += 1
        items: list[Any] = []
        while not c.accept("]"):
            if items:
                c.expect(",", "',' or ']'")
            items.append(_value(c, constants))
        return tuple(items)
    if ch.isalpha() or ch == "_":
        word = c.match(_IDENT, "a value")
        if c.text.startswith("[", c.pos):
            return _array(c, word, start, constants)
        if word in _WORDS:
            return _WORDS[word]
        if word in _SHORT_DTYPES:
            return _SHORT_DTYPES[word]
        raise c.error(f"unknown value {word!r}", start)
    if c.accept("-inf"):
        return float("-inf")
    number = c.match(_NUMBER, "a value")
    return int(number) if _INT.fullmatch(number.lstrip("-")) else float(number)


# -- nodes -------------------------------------------------------------------------------------


def _types(c: _Cursor) -> list[tuple[DType, Shape | None]]:
    types = []
    while True:
        start = c.skip()
        word = c.match(_IDENT, "a type like f32[?,3]")
        if word not in _SHORT_DTYPES:
            raise c.error(f"unknown dtype {word!r}", start)
        types.append((_SHORT_DTYPES[word], _shape(c, allow_unknown=True)))
        if not c.accept(","):
            return types


class _Builder:
    """Adds parsed lines to a graph, resolving names to the nodes defined so far."""

    def __init__(self, constants: Mapping[str, np.ndarray], infer: Infer | None) -> None:
        self.graph = Graph()
        self.constants = constants
        self.infer = infer
        self.nodes: dict[str, Node] = {}

    def node(self, name: str, c: _Cursor, start: int) -> Node:
        if name not in self.nodes:
            raise c.error(f"%{name} is not defined on an earlier line", start)
        return self.nodes[name]

    def tensor(self, c: _Cursor) -> Tensor:
        name, index, start = _ref(c)
        node = self.node(name, c, start)
        if index >= len(node.outputs):
            raise c.error(
                f"%{name} ({node.type}) has {len(node.outputs)} output(s); no output {index}", start
            )
        return node.outputs[index]

    def line(self, c: _Cursor) -> None:
        refs = [_ref(c)]
        while c.accept(","):
            refs.append(_ref(c))
        c.expect("=")
        op_at = c.skip()
        op = c.match(_IDENT, "an op name")
        c.expect("(")
        inputs: list[Tensor] = []
        while not c.accept(")"):
            if inputs:
                c.expect(",", "',' or ')'")
            inputs.append(self.tensor(c))
        controls: list[Node] = []
        if c.accept("^["):
            while not c.accept("]"):
                if controls:
                    c.expect(",", "',' or ']'")
                name, start = _name(c)
                controls.append(self.node(name, c, start))
        attrs: dict[str, Any] = {}
        if c.accept("{"):
            while not c.accept("}"):
                if attrs:
                    c.expect(",", "',' or '}'")
                key_at = c.skip()
                key = c.match(_IDENT, "an attribute name")
                if key in attrs:
                    raise c.error(f"attribute {key!r} is given twice", key_at)
                c.expect("=")
                attrs[key] = _value(c, self.constants)
        types_at = c.skip()
        types = _types(c) if c.accept(":") else []
        if not c.at_end():
            raise c.error(f"unexpected {c.text[c.pos : c.pos + 12]!r} after the node")
        name = self._check_refs(refs, len(types), c)
        self._check_types(op, inputs, Attrs(attrs), types, c, op_at, types_at)
        try:
            node = self.graph.create_node(op, inputs, attrs, types, name=name + "/",
                                          control_inputs=controls)  # fmt: skip
        except GraphError as err:
            raise c.error(str(err), refs[0][2]) from None
        self.nodes[name] = node

    def _check_refs(self, refs: list[tuple[str, int, int]], outputs: int, c: _Cursor) -> str:
        """The node's name: the left side must be %n, %n:1, ... one ref per output type."""
        name = refs[0][0]
        if name in self.nodes:
            raise c.error(f"%{name} is defined twice", refs[0][2])
        for i, (ref_name, index, start) in enumerate(refs):
            if ref_name != name or index != i:
                want = f"%{name}" if i == 0 else f"%{name}:{i}"
                raise c.error(f"output {i} of the node must be written {want}", start)
        if len(refs) != max(outputs, 1):
            raise c.error(
                f"the left side names {len(refs)} output(s) but {outputs} type(s) follow ':'",
                refs[0][2],
            )
        return name

    def _check_types(self, op: str, inputs: list[Tensor], attrs: Attrs,
                     types: list[tuple[DType, Shape | None]], c: _Cursor, op_at: int,
                     types_at: int) -> None:  # fmt: skip
        """Raises ParseError unless the op's shape rule agrees with the declared types."""
        if self.infer is None:
            return
        try:
            expected = list(self.infer(op, inputs, attrs))
        except Exception as err:  # any complaint of the rule is a complaint about this line
            raise c.error(f"{op}: {type(err).__name__}: {err}", op_at) from err
        if not _compatible(types, expected):
            text = ", ".join(f"{d.short}{format_shape(s)}" for d, s in types) or "no outputs"
            rule = ", ".join(f"{d.short}{format_shape(s)}" for d, s in expected) or "no outputs"
            raise c.error(f"the text says {text} but the shape rule of {op} gives {rule}", types_at)


def _compatible(declared: OutputTypes, expected: OutputTypes) -> bool:
    """Same count and dtypes, and shapes that do not conflict (either may be more precise)."""
    if len(declared) != len(expected):
        return False
    for (d1, s1), (d2, s2) in zip(declared, expected, strict=True):
        try:
            merge_shapes(s1, s2)
        except ShapeError:
            return False
        if d1 != d2:
            return False
    return True


def parse_graph(
    text: str,
    constants: Mapping[str, np.ndarray] | None = None,
    infer: Infer | None = None,
) -> Graph:
    """The graph whose text form is `text` (see printer.format_graph). `constants` maps the
    keys of elided arrays to their values; `infer`, when given, checks each node's output
    types against its op's shape rule. Raises ParseError naming the line and column."""
    builder = _Builder(constants or {}, infer)
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.strip().startswith("//"):
            builder.line(_Cursor(line.rstrip(), lineno))
    return builder.graph
