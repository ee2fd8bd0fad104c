"""The error hierarchy: every error graphnet raises derives from GraphnetError."""

from __future__ import annotations


class GraphnetError(Exception):
    """Base class of every error raised by graphnet."""


class ShapeError(GraphnetError, ValueError):
    """A shape does not fit what an op expects."""


class DTypeError(GraphnetError, TypeError):
    """A dtype does not fit what an op expects."""


class GraphError(GraphnetError, ValueError):
    """The graph is malformed: mixed graphs, unknown names, cycles, duplicate names."""


class FeedError(GraphnetError, ValueError):
    """A feed is missing, unknown, not feedable, or of the wrong shape or dtype."""


class FetchError(GraphnetError, ValueError):
    """A fetch names nothing in the graph or is not fetchable."""


class FailedPreconditionError(GraphnetError, RuntimeError):
    """A run needs state that is not there yet (an uninitialized variable)."""


class OpError(GraphnetError, RuntimeError):
    """An op failed while running; the message names the node."""


class GradientError(GraphnetError, LookupError):
    """A gradient is needed through an op that has no gradient rule."""


class PlanFileError(GraphnetError, ValueError):
    """An exported plan file is corrupt, tampered or of an unknown format."""
