"""Query API: the UI's REST API, Tempo and Prometheus APIs, Langfuse read API; serves ui/."""

from query_api.app import create_app
from query_api.auth import OtlpPorts

__all__ = ["OtlpPorts", "create_app"]
