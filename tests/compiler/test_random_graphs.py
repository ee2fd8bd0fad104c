"""Random DAGs (hypothesis): O1 computes what O0 computes, values and gradients; each pass
alone keeps the results and verifies; the text form round-trips."""

from collections.abc import Callable

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import graphnet as gn
from graphnet.compiler import PASSES, PassContext, extract, verify
from graphnet.compiler.passes import (
    eliminate_common_subexpressions as _cse,
    eliminate_dead as _dead,
    fold_constants as _fold,
    infer_shapes as _infer,
    simplify as _simplify,
)
from graphnet.compiler.testing import assert_same_results, parse
from graphnet.ir.printer import elided_constants, format_graph

MY_PASSES = tuple(m.__name__.rsplit(".", 1)[1] for m in (_infer, _simplify, _fold, _cse, _dead))
DIMS = st.integers(1, 3)
UNARY = ("tanh", "sigmoid", "negative", "square", "identity", "sin", "abs", "stop_gradient")
BINARY = ("add", "subtract", "multiply", "maximum")
NEUTRAL = (("multiply", 1.0), ("add", 0.0), ("subtract", 0.0), ("divide", 1.0), ("pow", 1.0))


class _Builder:
    """Grows a pool of float64 tensors whose run-time shapes it knows, drawing every choice."""

    def __init__(self, data: st.DataObject, rng: np.random.Generator) -> None:
        self.data = data
        self.rng = rng
        self.pool: list[gn.Tensor] = []
        self.shapes: dict[gn.Tensor, tuple[int, ...]] = {}

    def draw(self, strategy: st.SearchStrategy):
        return self.data.draw(strategy)

    def add(self, t: gn.Tensor, shape: tuple[int, ...]) -> None:
        self.pool.append(t)
        self.shapes[t] = shape

    def pick(self, fits: Callable[[tuple[int, ...]], bool] = lambda s: True) -> gn.Tensor | None:
        choices = [t for t in self.pool if fits(self.shapes[t])]
        return self.draw(st.sampled_from(choices)) if choices else None

    def constant(self, shape: tuple[int, ...], value: float | None = None) -> gn.Tensor:
        data = self.rng.uniform(-1, 1, size=shape) if value is None else np.full(shape, value)
        return gn.constant(data, dtype=gn.float64)

    # -- steps: each adds tensors to the pool ------------------------------------------------

    def unary(self) -> None:
        x = self.pick()
        self.add(getattr(gn, self.draw(st.sampled_from(UNARY)))(x), self.shapes[x])

    def binary(self) -> None:
        x = self.pick()
        y = self.pick(lambda s: _broadcast(s, self.shapes[x]) is not None)
        op = getattr(gn, self.draw(st.sampled_from(BINARY)))
        self.add(op(x, y), _broadcast(self.shapes[x], self.shapes[y]))

    def neutral(self) -> None:
        """x op c with c full of op's neutral element, of a shape that may broadcast x."""
        x = self.pick()
        shape = self.draw(st.sampled_from([(), (1,), self.shapes[x], (2, *self.shapes[x])]))
        op, value = self.draw(st.sampled_from(NEUTRAL))
        c = self.constant(shape, value)
        swap = op in ("multiply", "add") and self.draw(st.booleans())
        self.add(getattr(gn, op)(*((c, x) if swap else (x, c))), _broadcast(self.shapes[x], shape))

    def double(self) -> None:
        x = self.pick()
        shape = self.shapes[x]
        kind = self.draw(st.sampled_from(["negative", "identity", "transpose"]))
        if kind == "transpose" and len(shape) >= 2:
            p = self.draw(st.permutations(range(len(shape))))
            q = self.draw(st.permutations(range(len(shape))))
            out = gn.transpose(gn.transpose(x, p), q)
            self.add(out, tuple(shape[p[i]] for i in q))
        else:
            op = gn.negative if kind == "negative" else gn.identity
            self.add(op(op(x)), shape)

    def matmul(self) -> None:
        a = self.pick(lambda s: len(s) == 2)
        if a is None:
            return
        m, k = self.shapes[a]
        b = self.pick(lambda s: len(s) == 2 and s[0] == k)
        if b is None:
            b = self.constant((k, self.draw(DIMS)))
            self.shapes[b] = tuple(b.shape)
        n = self.shapes[b][1]
        ta, tb = self.draw(st.booleans()), self.draw(st.booleans())
        a2 = gn.transpose(a) if ta else a
        b2 = gn.transpose(b) if tb else b
        self.add(gn.matmul(a2, b2, transpose_a=ta, transpose_b=tb), (m, n))

    def reduce(self) -> None:
        x = self.pick(lambda s: len(s) >= 1)
        if x is None:
            return
        shape = self.shapes[x]
        axes = self.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True))
        keep = self.draw(st.booleans())
        op = gn.reduce_sum if self.draw(st.booleans()) else gn.reduce_mean
        out = tuple((1 if keep else -1) if i in axes else d for i, d in enumerate(shape))
        self.add(op(x, axes, keepdims=keep), tuple(d for d in out if d != -1))

    def reshape(self) -> None:
        x = self.pick()
        shape, size = self.shapes[x], int(np.prod(self.shapes[x]))
        kind = self.draw(st.sampled_from(["flat", "row", "same", "there_and_back"]))
        if kind == "flat":
            self.add(gn.reshape(x, [-1]), (size,))
        elif kind == "row":
            self.add(gn.reshape(x, [1, -1]), (1, size))
        elif kind == "same":
            self.add(gn.reshape(x, gn.shape(x)), shape)
        else:
            self.add(gn.reshape(gn.reshape(x, [-1]), gn.shape(x)), shape)

    def transpose(self) -> None:
        x = self.pick(lambda s: len(s) >= 2)
        if x is not None:
            perm = self.draw(st.permutations(range(len(self.shapes[x]))))
            self.add(gn.transpose(x, perm), tuple(self.shapes[x][p] for p in perm))

    def concat(self) -> None:
        x = self.pick(lambda s: len(s) >= 1)
        if x is None:
            return
        shape = self.shapes[x]
        axis = self.draw(st.integers(0, len(shape) - 1))
        same = lambda s: (
            len(s) == len(shape)
            and all(a == b for i, (a, b) in enumerate(zip(s, shape, strict=True)) if i != axis)
        )
        y = self.pick(same)
        out = tuple(d + self.shapes[y][axis] if i == axis else d for i, d in enumerate(shape))
        self.add(gn.concat([x, y], axis), out)

    def constants(self) -> None:
        """A subgraph of constants only, which folding computes while compiling."""
        shape = tuple(self.draw(st.lists(DIMS, max_size=2)))
        c = self.constant(shape)
        op = self.draw(st.sampled_from(["tanh", "square", "negative"]))
        self.add(getattr(gn, op)(c) * self.constant(shape), shape)

    def shape_query(self) -> None:
        x, y = self.pick(), self.pick()
        size = gn.cast(gn.size(x), gn.float64) / gn.cast(gn.rank(x) + 1, gn.float64)
        self.add(y * size + gn.zeros_like(y), self.shapes[y])

    def duplicate(self) -> None:
        x = self.pick()
        op = getattr(gn, self.draw(st.sampled_from(UNARY)))
        self.add(op(x) + op(x), self.shapes[x])


STEPS = [f for name, f in vars(_Builder).items() if callable(f) and name in (
    "unary", "binary", "neutral", "double", "matmul", "reduce", "reshape", "transpose", "concat",
    "constants", "shape_query", "duplicate",
)]  # fmt: skip


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


def _random_graph(data: st.DataObject):
    """A graph over placeholders, a variable and constants; its fetches (outputs, gradients,
    an update of the variable) and feeds."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    b = _Builder(data, rng)
    feeds = {}
    for i in range(data.draw(st.integers(1, 3))):
        shape = tuple(data.draw(st.lists(DIMS, min_size=1, max_size=2)))
        static = [None if data.draw(st.booleans()) else d for d in shape]
        p = gn.placeholder(gn.float64, static, name=f"p{i}")
        feeds[p] = rng.uniform(-1, 1, size=shape)
        b.add(p, shape)
    v = gn.Variable(rng.uniform(-1, 1, size=(2,)), name="v")
    b.add(v.value(), (2,))
    for _ in range(data.draw(st.integers(1, 10))):
        data.draw(st.sampled_from(STEPS))(b)
    outputs = [b.pool[-1], *data.draw(st.lists(st.sampled_from(b.pool), max_size=2))]
    loss = gn.add_n([gn.reduce_sum(t * b.constant(b.shapes[t])) for t in outputs])
    xs = [*feeds, v.value()]
    grads = [g for g in gn.gradients(loss, xs) if g is not None]
    update = gn.assign_add(v, gn.reduce_sum(loss) * 0.01 + gn.zeros_like(v.value()))
    return [*outputs, loss, *grads, update], feeds, v


SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.data())
def test_o1_computes_what_o0_computes(data):
    graph = gn.Graph()
    with graph.as_default():
        fetches, feeds, v = _random_graph(data)
    results = []
    for level in ("O0", "O1"):
        with gn.Session(graph=graph, config=gn.SessionConfig(level, verify=True)) as sess:
            sess.run(v.initializer)
            results.append(sess.run(fetches, feeds))
    for i, (got, want) in enumerate(zip(*reversed(results), strict=True)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=f"fetch {i}")


@SETTINGS
@given(st.data())
def test_each_pass_alone_keeps_results_and_the_text_form_round_trips(data):
    graph = gn.Graph()
    with graph.as_default():
        fetches, feeds, v = _random_graph(data)
    program = extract(graph, fetches, {p: f.shape for p, f in feeds.items()})
    by_name = {p.node.name: f for p, f in feeds.items()}
    variables = {"v": v.initial_value.node.attrs["value"]}
    for text_of in (graph, program):
        text = format_graph(text_of)
        assert format_graph(parse(text, elided_constants(text_of))) == text
    current = program
    for name in MY_PASSES:
        for source in (program, current):
            result = PASSES[name].fn(source, PassContext())
            verify(result, name)
            assert_same_results(program, result, by_name, variables)
        current = result
    assert len(current.nodes) <= len(program.nodes)
