"""The runtime: Session, and exported inference plans loaded without the builder (loader)."""

from graphnet.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Session": "graphnet.runtime.session",
        "SessionConfig": "graphnet.runtime.session",
        "InferencePlan": "graphnet.runtime.loader",
        "load_plan": "graphnet.runtime.loader",
    },
)
