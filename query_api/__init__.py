"""Query API: the UI's REST API, Tempo and Prometheus APIs, Langfuse read API; serves ui/."""

from query_api.app import create_app

__all__ = ["create_app"]
