"""The one helper every op test uses: forward against NumPy, gradient against finite differences."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import graphnet as gn
from graphnet.backends import BackendError, get_backend
from graphnet.train.gradient_check import numeric_gradient, relative_error

#: Backends every op test runs on, values and finite-difference gradients.
BACKENDS = ["reference", "cpu"]


def _device_backends() -> list[str]:
    """["cuda"] where the CUDA backend can run (a GPU, or Numba's simulator, which
    tests/conftest.py turns on without one), unless GRAPHNET_TEST_CUDA=0."""
    if os.environ.get("GRAPHNET_TEST_CUDA", "1") == "0":
        return []
    try:
        get_backend("cuda")
    except BackendError:
        return []
    return ["cuda"]


#: Backends every op test also runs on, against the reference's values and its gradients
#: (finite differences would run the CUDA simulator hundreds of times per test).
DEVICE_BACKENDS = _device_backends()


def _build(fn: Callable[..., Any], arrays: Sequence[np.ndarray], static_shapes: bool):
    graph = gn.Graph()
    with graph.as_default():
        phs = [
            gn.placeholder(gn.as_dtype(a.dtype), a.shape if static_shapes else [None] * a.ndim,
                           name=f"in{i}")
            for i, a in enumerate(arrays)
        ]  # fmt: skip
        out = fn(*phs)
    return graph, phs, out


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list | tuple) else [x]


def check_op(
    fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    expected: Callable[..., Any] | Any,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-7,
    grad: bool | Sequence[int] = True,
    grad_rtol: float = 1e-6,
    eps: float = 1e-6,
    static_shapes: bool = True,
) -> None:
    """Runs `fn(*placeholders)` on each backend against `expected(*arrays)` (or a value), then,
    when `grad`, checks the gradient of the float64 inputs (or of the listed input indices)
    against central finite differences. Arrays should be float64 for gradient checks."""
    arrays = [np.asarray(a) for a in arrays]
    want = [np.asarray(w) for w in _as_list(expected(*arrays) if callable(expected) else expected)]
    graph, phs, out = _build(fn, arrays, static_shapes)
    outs = _as_list(out)
    feed = dict(zip(phs, arrays, strict=True))
    for backend in BACKENDS + DEVICE_BACKENDS:
        with gn.Session(graph=graph, backend=backend) as sess:
            got = sess.run(outs, feed)
        assert len(got) == len(want), f"{len(got)} outputs, expected {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert np.shape(g) == w.shape, (
                f"[{backend}] output {i}: shape {np.shape(g)} != {w.shape}"
            )
            assert outs[i].dtype.np == np.asarray(g).dtype, (
                f"output {i}: dtype {np.asarray(g).dtype}"
            )
            np.testing.assert_allclose(
                g, w, rtol=rtol, atol=atol, err_msg=f"[{backend}] output {i}"
            )
    if grad:
        indices = range(len(arrays)) if grad is True else grad
        check_grad(
            fn,
            arrays,
            wrt=[i for i in indices if arrays[i].dtype == np.float64],
            rtol=grad_rtol,
            eps=eps,
            static_shapes=static_shapes,
        )


def check_grad(
    fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    wrt: Sequence[int] | None = None,
    *,
    rtol: float = 1e-6,
    eps: float = 1e-6,
    static_shapes: bool = True,
    seed: int = 0,
) -> None:
    """gn.gradients of sum(w * fn(...)) (w fixed random weights over every float output) equals
    central finite differences for the inputs `wrt`, to relative error `rtol`."""
    arrays = [np.asarray(a) for a in arrays]
    wrt = [i for i, a in enumerate(arrays) if a.dtype == np.float64] if wrt is None else list(wrt)
    graph, phs, out = _build(fn, arrays, static_shapes)
    rng = np.random.default_rng(seed)
    with graph.as_default():
        terms = []
        for o in _as_list(out):
            if o.dtype.is_floating:
                weights = rng.uniform(0.5, 1.5, size=_runtime_shape(graph, o, phs, arrays))
                terms.append(gn.reduce_sum(o * gn.constant(weights, dtype=o.dtype)))
        loss = gn.add_n(terms)
        grads = gn.gradients(loss, [phs[i] for i in wrt])
    feed = dict(zip(phs, arrays, strict=True))
    for backend in BACKENDS:
        with gn.Session(graph=graph, backend=backend) as sess:
            for i, g in zip(wrt, grads, strict=True):
                assert g is not None, f"no gradient for input {i}"
                analytic = sess.run(g, feed)

                def loss_at(value: np.ndarray, i: int = i) -> float:
                    return float(sess.run(loss, {**feed, phs[i]: value}))

                numeric = numeric_gradient(loss_at, arrays[i], eps)
                err = relative_error(analytic, numeric)
                assert err <= rtol, (
                    f"[{backend}] gradient of input {i}: relative error {err:.2e} > {rtol:.0e}\n"
                    f"analytic:\n{analytic}\nnumeric:\n{numeric}"
                )
    if DEVICE_BACKENDS:
        with gn.Session(graph=graph, backend="reference") as sess:
            expected = sess.run(grads, feed)
    for backend in DEVICE_BACKENDS:
        with gn.Session(graph=graph, backend=backend) as sess:
            got = sess.run(grads, feed)
        for i, g, e in zip(wrt, got, expected, strict=True):
            np.testing.assert_allclose(
                g, e, rtol=1e-10, atol=1e-10, err_msg=f"[{backend}] gradient of input {i}"
            )


def _runtime_shape(graph, out, phs, arrays):
    """The concrete shape of `out` for these inputs (static when known, else by running it)."""
    if out.shape is not None and None not in out.shape:
        return out.shape
    with gn.Session(graph=graph) as sess:
        return np.shape(sess.run(out, dict(zip(phs, arrays, strict=True))))


def rand(*shape: int, seed: int = 0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Reproducible float64 test data."""
    return np.random.default_rng(seed).uniform(low, high, size=shape)
