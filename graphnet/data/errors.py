"""The errors of gn.data."""

from __future__ import annotations

from graphnet.ir.errors import GraphnetError


class DataError(GraphnetError, ValueError):
    """A data file is corrupt or of the wrong format, or a dataset is built or used wrongly."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file or directory is not there."""


class OptionalDependencyError(GraphnetError, ImportError):
    """A feature needs a package that graphnet does not require (the message names the install)."""
