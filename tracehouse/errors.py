"""Typed errors shared by every Tracehouse process.

Each error carries the HTTP status and the gRPC status code it maps to, so one
middleware (HTTP) and one interceptor (gRPC) can render any of them. Messages
name the limit, the value and the fix.

    TracehouseError
    ├── InvalidInput          400 / INVALID_ARGUMENT
    ├── Unauthenticated       401 / UNAUTHENTICATED
    ├── Forbidden             403 / PERMISSION_DENIED
    ├── NotFound              404 / NOT_FOUND
    ├── Conflict              409 / ALREADY_EXISTS
    ├── RequestTimeout        408 / DEADLINE_EXCEEDED
    ├── PayloadTooLarge       413 / RESOURCE_EXHAUSTED
    ├── UnsupportedMediaType  415 / INVALID_ARGUMENT
    ├── Overloaded            503 / UNAVAILABLE (retryable, with a delay hint)
    ├── StorageUnavailable    503 / UNAVAILABLE (retryable, with a delay hint)
    │   └── LowDisk           new data refused while the data directory's disk is nearly full
    ├── StoreLocked           the embedded data directory is held by another process
    └── ConfigError           bad settings, found at start-up
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "LowDisk",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "RequestTimeout",
    "StorageUnavailable",
    "StoreLocked",
    "TracehouseError",
    "Unauthenticated",
    "UnsupportedMediaType",
]


class TracehouseError(Exception):
    """Base of every error Tracehouse raises on purpose."""

    http_status = 500
    grpc_code = "INTERNAL"
    code = "internal"
    retry_after_s: float | None = None

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s

    def retry_after(self) -> int | None:
        """Whole seconds a client should wait before retrying (Retry-After, gRPC RetryInfo), or
        None when retrying would not help. The one place every port takes its hint from."""
        if self.http_status not in (429, 503) and self.retry_after_s is None:
            return None  # a conflict that says retry sets its hint explicitly
        return max(1, round(self.retry_after_s or 1))


class InvalidInput(TracehouseError):
    http_status = 400
    grpc_code = "INVALID_ARGUMENT"
    code = "invalid_input"


class Unauthenticated(TracehouseError):
    http_status = 401
    grpc_code = "UNAUTHENTICATED"
    code = "unauthenticated"


class Forbidden(TracehouseError):
    http_status = 403
    grpc_code = "PERMISSION_DENIED"
    code = "forbidden"


class NotFound(TracehouseError):
    http_status = 404
    grpc_code = "NOT_FOUND"
    code = "not_found"


class RequestTimeout(TracehouseError):
    http_status = 408
    grpc_code = "DEADLINE_EXCEEDED"
    code = "request_timeout"


class Conflict(TracehouseError):
    http_status = 409
    grpc_code = "ALREADY_EXISTS"
    code = "conflict"


class PayloadTooLarge(TracehouseError):
    http_status = 413
    grpc_code = "RESOURCE_EXHAUSTED"
    code = "payload_too_large"


class UnsupportedMediaType(TracehouseError):
    http_status = 415
    grpc_code = "INVALID_ARGUMENT"
    code = "unsupported_media_type"


class Overloaded(TracehouseError):
    http_status = 503
    grpc_code = "UNAVAILABLE"
    code = "overloaded"
    retry_after_s = 1.0


class StorageUnavailable(TracehouseError):
    http_status = 503
    grpc_code = "UNAVAILABLE"
    code = "storage_unavailable"
    retry_after_s = 2.0


class LowDisk(StorageUnavailable):
    code = "low_disk"
    # A disk does not free itself within a second, but an OTel SDK gives up once a hint passes its
    # export budget (10 s by default): 5 s leaves it a retry or two.
    retry_after_s = 5.0


class StoreLocked(TracehouseError):
    code = "store_locked"


class ConfigError(TracehouseError):
    code = "config_error"
