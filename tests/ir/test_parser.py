"""The text form's parser: print(parse(print(g))) == print(g), values exact, errors located."""

import math

import numpy as np
import pytest

import graphnet as gn
from graphnet.compiler.testing import parse
from graphnet.ir.parser import ParseError, parse_graph
from graphnet.ir.printer import constant_key, elided_constants, format_graph


def _zoo() -> gn.Graph:
    """A graph with every op family, name scopes, multi-output nodes, state, control
    dependencies, random ops, and gradients (of gradients) through all of it."""
    g = gn.Graph()
    rng = np.random.default_rng(0)
    with g.as_default():
        x = gn.placeholder(gn.float64, [None, 4], name="x")
        img = gn.placeholder(gn.float64, [2, 6, 6, 3], name="in/img")
        labels = gn.placeholder(gn.int32, [None], name="labels")
        w = gn.Variable(rng.normal(size=(4, 5)), name="dense/w")
        b = gn.Variable(np.zeros(5), name="dense/b")
        with gn.name_scope("block"):
            h = gn.nn.relu(gn.matmul(x, w) + b)
            h = gn.nn.leaky_relu(h, 0.1) * 2.5 - 1e-7
            h = gn.tanh(h) + gn.sigmoid(h) / gn.exp(-gn.square(h))
            h = gn.where(h > 0.0, h, gn.zeros_like(h))
            parts = gn.split(gn.concat([h, h * 3.0], axis=1), 2, axis=1)
            rows = gn.unstack(gn.stack(parts, axis=0), axis=0)
            s = gn.transpose(rows[0])[1:3, ::-1][..., gn.newaxis, 0]
            r = gn.squeeze(gn.expand_dims(gn.reshape(h, [-1, 5, 1]), 0), [0])
            t = gn.tile(gn.pad(r, [[0, 0], [1, 1], [0, 0]]), [1, 1, 2])
            logits = gn.reduce_mean(t, axis=2) @ gn.constant(rng.normal(size=(7, 3)))
            xent = gn.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            onehot = gn.one_hot(labels, 3, on_value=0.9, off_value=0.05, dtype=gn.float64)
            loss = gn.reduce_mean(xent) + gn.reduce_sum(gn.nn.softmax(logits) * onehot)
            loss += gn.reduce_sum(gn.gather(gn.nn.log_softmax(logits), [0, 2], axis=1))
        with gn.name_scope("conv"):
            k = gn.Variable(rng.normal(size=(3, 3, 3, 4)), name="k")
            c = gn.nn.conv2d(img, k, strides=[1, 1, 1, 1], padding="SAME")
            c = gn.nn.max_pool(c, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
            c = gn.nn.avg_pool(c, [1, 2, 2, 1], [1, 1, 1, 1], "SAME")
            dw = gn.nn.depthwise_conv2d(img, rng.normal(size=(2, 2, 3, 2)), [1, 1, 1, 1], "VALID")
            bn = gn.nn.fused_batch_norm(c, np.ones(4), np.zeros(4), epsilon=1e-3)
            loss += gn.reduce_sum(bn[0]) + gn.reduce_sum(gn.nn.lrn(c)) + gn.reduce_sum(dw)
            loss += gn.reduce_sum(gn.nn.dropout(c, rate=0.5))
            noise = gn.random_normal([2]) + gn.random_uniform([2], seed=7)
        loss += gn.reduce_sum(s) + gn.reduce_max(gn.cast(gn.argmax(logits, 1), gn.float64))
        loss += gn.reduce_prod(gn.abs(b) + 1.0) + gn.reduce_sum(gn.cast(noise, gn.float64))
        grads = gn.gradients(loss, [x, img, w, b, k])
        gn.gradients(gn.reduce_sum(grads[0] * grads[0]), [x])
        updates = [gn.assign_sub(v, 0.1 * d) for v, d in zip([w, b, k], grads[2:], strict=True)]
        with gn.control_dependencies(updates):
            gn.no_op(name="train")
    return g


def test_round_trip_of_every_op_family_with_gradients():
    g = _zoo()
    text = format_graph(g)
    assert "<" in text  # some constants are elided
    parsed = parse(text, constants=elided_constants(g))  # checks each node's shape rule
    assert format_graph(parsed) == text
    assert len({n.type for n in parsed.nodes}) > 60
    full = format_graph(g, inline_limit=None)
    assert "<" not in full and format_graph(parse(full), inline_limit=None) == full


def _attrs_node(**attrs):
    g = gn.Graph()
    g.create_node("test_attrs", [], attrs, [], name="n")
    return g


VALUES = {
    "string": 'a "quoted" \\ back\nslash\ttab \x01 é ☃',
    "empty": "",
    "yes": True,
    "no": False,
    "nothing": None,
    "int": -12345678901234567890,
    "float": 0.1,
    "tiny": 5e-324,
    "big": -1.7976931348623157e308,
    "inf": math.inf,
    "minus_inf": -math.inf,
    "nested": ((1, 2), (), ((None, "..."), 3.5), "newaxis"),
    "dtype": gn.float32,
}


def test_every_attribute_value_kind_round_trips():
    g = _attrs_node(**VALUES, nan=math.nan)
    text = format_graph(g)
    parsed = parse_graph(text)
    assert format_graph(parsed) == text
    attrs = parsed.nodes[0].attrs
    assert {k: attrs[k] for k in VALUES} == VALUES
    assert math.isnan(attrs["nan"])
    assert isinstance(attrs["nested"], tuple) and isinstance(attrs["int"], int)


@pytest.mark.parametrize(
    "value",
    [
        np.random.default_rng(1).normal(size=(2, 3)),
        np.random.default_rng(2).normal(size=7).astype(np.float32),
        np.array([np.inf, -np.inf, np.nan, -0.0, 1e-300, 1e300], np.float64),
        np.array(3.0, np.float32),
        np.zeros((0, 3), np.float32),
        np.array([[True, False]]),
        np.array([-(2**62), 7], np.int64),
        np.arange(6, dtype=np.int32).reshape(3, 2, 1),
    ],
)
def test_small_arrays_print_inline_with_every_bit(value):
    g = _attrs_node(value=value)
    text = format_graph(g)
    assert "<" not in text
    parsed = parse_graph(text).nodes[0].attrs["value"]
    assert parsed.dtype == value.dtype and parsed.shape == value.shape
    assert parsed.tobytes() == value.tobytes() or np.isnan(value).any()
    np.testing.assert_array_equal(parsed, value)
    assert not parsed.flags.writeable
    assert format_graph(parse_graph(text)) == text


def test_big_arrays_are_elided_to_a_key_that_constants_resolves():
    value = np.arange(100, dtype=np.float64).reshape(10, 10) / 3
    g = _attrs_node(value=value)
    text = format_graph(g)
    key = constant_key(value)
    assert text == f"%n = test_attrs() {{value=float64[10,10]<{key}>}}"
    assert parse_graph(text, constants={key: value}).nodes[0].attrs["value"] is value
    with pytest.raises(ParseError, match=r"line 1, column 26: .*elided.*constants="):
        parse_graph(text)
    with pytest.raises(ParseError, match="is not the float64"):
        parse_graph(text, constants={key: value.T.copy()})
    full = parse_graph(format_graph(g, inline_limit=None)).nodes[0].attrs["value"]
    assert full.tobytes() == value.tobytes()


def test_names_scopes_multi_output_refs_and_control_inputs():
    text = """
        // a comment, and blank lines, are skipped

        %a/b-c.d = placeholder() {dtype="float32", shape=[4,2]} : f32[4,2]
        %"odd name:1" = placeholder() {dtype="float32", shape=none} : f32[*]
        %s, %s:1 = split(%a/b-c.d) {axis=1, num_split=2, size_splits=none} : f32[4,1], f32[4,1]
        %g = no_op() ^[%s, %"odd name:1"]
        %y = add(%s:1, %s) ^[%g] : f32[4,1]
    """
    g = parse(text)
    y = g.get_operation_by_name("y")
    assert [t.name for t in y.inputs] == ["s:1", "s:0"]
    assert [c.name for c in g.get_operation_by_name("g").control_inputs] == ["s", "odd name:1"]
    assert format_graph(parse(format_graph(g))) == format_graph(g)
    assert '%"odd name:1" = placeholder()' in format_graph(g)


@pytest.mark.parametrize(
    "text, where, message",
    [
        ("%y = negative(%x) : f32[2]", (1, 15), r"%x is not defined"),
        ("%x = placeholder() {dtype=float32} : f32[2]", (1, 27), "unknown value 'float32'"),
        ("%x = placeholder( : f32[2]", (1, 19), r"expected a name starting with '%'"),
        ('%x = foo() {s="abc} : f32[2]', (1, 15), "unterminated string"),
        ('%x = foo() {s="a\\qb"} : f32[2]', (1, 17), r"unknown escape \\q"),
        ("%x = foo() {a=1, a=2}", (1, 18), "given twice"),
        ("%x = foo() : q32[2]", (1, 14), "unknown dtype 'q32'"),
        ("%x = foo() : f32[2] junk", (1, 21), "unexpected 'junk'"),
        ("%x, %y:1 = foo() : f32[2], f32[2]", (1, 5), r"must be written %x:1"),
        ("%x = foo() : f32[2], f32[3]", (1, 1), "names 1 output"),
        ("%x = foo() {v=float32[3][1.,2.]}", (1, 15), "needs 3 elements"),
        ("%x = foo() : f32[2]\n%x = foo() : f32[2]", (2, 1), "defined twice"),
        ("%x = foo() : f32[2]\n\n%y = bar(%x:1) : f32[2]", (3, 10), "has 1 output"),
    ],
)
def test_malformed_text_names_line_and_column(text, where, message):
    with pytest.raises(ParseError, match=message) as info:
        parse_graph(text)
    assert (info.value.line, info.value.column) == where
    assert f"line {where[0]}, column {where[1]}" in str(info.value)
    assert isinstance(info.value, gn.GraphError) and isinstance(info.value, gn.GraphnetError)


def test_types_must_be_what_the_shape_rule_gives():
    text = """
        %x = placeholder() {dtype="float32", shape=[none,3]} : f32[?,3]
        %w = const() {value=float32[3,2][1.,2.,3.,4.,5.,6.]} : f32[3,2]
        %y = matmul(%x, %w) {transpose_a=false, transpose_b=false} : TYPE
    """
    message = r"line 4, column 60: the text says f32\[\?,3\] but the shape rule of matmul gives"
    with pytest.raises(ParseError, match=message + r" f32\[\?,2\]"):
        parse(text.replace("TYPE", "f32[?,3]"))
    with pytest.raises(ParseError, match=r"line 4, column 6: matmul: KeyError: 'transpose_a'"):
        parse(text.replace("transpose_a=false, ", "").replace("TYPE", "f32[?,2]"))
    with pytest.raises(ParseError, match=r"unknown op 'nope'"):
        parse(text.replace("matmul(", "nope(").replace("TYPE", "f32[?,2]"))
    # a type more precise than the rule's (a fed shape) or less precise (a copy) is fine
    for declared in ("f32[5,2]", "f32[*]"):
        assert parse(text.replace("TYPE", declared)).nodes[-1].outputs[0].dtype == gn.float32
