"""Neural-network ops (NHWC): activations, bias_add, softmax, convolutions, pooling, batch norm."""

from __future__ import annotations

__all__: list[str] = []
