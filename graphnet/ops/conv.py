"""Convolution and pooling ops (NHWC; filters [kh, kw, cin, cout])."""

from __future__ import annotations

__all__: list[str] = []
