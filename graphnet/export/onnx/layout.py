"""Layouts: how the axes of a stored tensor relate to the axes of the value it stands for.

ONNX images are NCHW, graphnet's NHWC. The importer keeps each ONNX value as a graphnet tensor
plus a layout `p`: stored axis i holds logical (ONNX) axis p[i], so an NCHW value kept as NHWC
has p = (0, 2, 3, 1). The exporter uses the same helpers the other way round (logical graphnet
axes stored in ONNX values). Transposes are inserted only where an op needs another layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Layout = tuple[int, ...]


def identity(rank: int) -> Layout:
    return tuple(range(rank))


def is_identity(p: Layout) -> bool:
    return all(a == i for i, a in enumerate(p))


def inverse(p: Sequence[int]) -> Layout:
    out = [0] * len(p)
    for i, a in enumerate(p):
        out[a] = i
    return tuple(out)


def channels_last(rank: int) -> Layout:
    """The layout that stores a channels-first value (N, C, spatial...) channels last."""
    return (0, *range(2, rank), 1)


def channels_first(rank: int) -> Layout:
    """The layout that stores a channels-last value (N, spatial..., C) channels first."""
    return inverse(channels_last(rank))


def stored_axis(p: Layout, axis: int) -> int:
    """Where logical `axis` (negative counts from the end) is stored."""
    return p.index(axis % len(p))


def move(p: Layout, target: Layout) -> Layout:
    """The transpose perm taking a tensor stored in layout p to layout target."""
    return tuple(p.index(a) for a in target)


def transposed(p: Layout, perm: Sequence[int]) -> Layout:
    """The layout of the stored tensor after the logical value is transposed by `perm`
    (logical output axis k is input axis perm[k]): the data stays, only the labels change."""
    inv = inverse(perm)
    return tuple(inv[a] for a in p)


def removed(p: Layout, axes: Iterable[int]) -> Layout:
    """The layout left when logical `axes` (normalized) are dropped from stored and logical."""
    gone = set(axes)
    kept = [a for a in p if a not in gone]
    rank = {a: i for i, a in enumerate(sorted(kept))}
    return tuple(rank[a] for a in kept)


def inserted(p: Layout, axes: Iterable[int]) -> Layout:
    """The layout after size-1 logical axes are inserted at the (normalized, output-numbered)
    positions `axes`; each new stored axis goes right after the one holding its logical
    predecessor, so a plain layout stays plain and the stored tensor is only reshaped."""
    new = sorted(set(axes))
    out_rank = len(p) + len(new)
    old = [a for a in range(out_rank) if a not in new]
    order = [old[a] for a in p]
    for a in new:
        order.insert(0 if a == 0 else order.index(a - 1) + 1, a)
    return tuple(order)


def reshape_only(shape: Sequence[int | None], perm: Sequence[int]) -> bool:
    """Whether transposing a tensor of `shape` by perm keeps the order of its elements (only
    size-1 axes move), so that a reshape does the same."""
    moved = [a for a in perm if shape[a] != 1]
    return None not in shape and moved == sorted(moved)
