"""The runtime: Session and the execution of plans on backends."""

from graphnet.runtime.session import Session as Session, SessionConfig as SessionConfig
