"""Recurrent cells (basic RNN, LSTM, GRU), static unrolling, gradient clipping helpers."""

from __future__ import annotations

__all__: list[str] = []
