"""The one settings model: built once at start-up (flags > environment > defaults), then passed down.

Nothing below this module reads ``os.environ``. Every field is documented here and in the
README's configuration table (a test keeps the two in step).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tracehouse.errors import ConfigError
from tracehouse.roles import parse_group_roles

__all__ = ["ENV_PREFIX", "Settings", "is_loopback"]

ENV_PREFIX = "TRACEHOUSE_"
DEFAULT_DATA_DIR = Path("tracehouse-data")
MIB = 1024 * 1024


class Settings(BaseSettings):
    """Runtime configuration of every Tracehouse process."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    data_dir: Path = Field(
        DEFAULT_DATA_DIR,
        description="Directory of the embedded ClickHouse (chDB) store; one process may hold it.",
    )
    clickhouse_url: str | None = Field(
        None,
        description="ClickHouse server to use instead of the embedded store, "
        "e.g. clickhouse://user:pass@host:9000/db (clickhouses:// for TLS).",
    )
    clickhouse_read_url: str | None = Field(
        None,
        description="A second URL for every read, with a read-only user (readonly = 2), so that no read path "
        "can write; the query process is the one to give it.",
    )
    clickhouse_cluster: str | None = Field(
        None,
        description="Cluster (remote_servers) to run on: the schema is created ON CLUSTER as Replicated tables "
        "with Distributed tables over them, sharded by trace id.",
    )
    clickhouse_pool_size: int = Field(4, ge=1, le=64, description="Connections (and threads) per ClickHouse URL.")
    clickhouse_async_insert: bool = Field(
        False,
        description="Insert with the server's async_insert and wait_for_async_insert = 1: the server batches "
        "inserts from many receivers, and an acknowledged span is still written.",
    )
    host: str = Field("127.0.0.1", description="Address every listener binds to.")
    api_port: int = Field(3000, ge=0, le=65535, description="HTTP port of the API, UI and Langfuse-compatible API.")
    otlp_grpc_port: int = Field(4317, ge=0, le=65535, description="OTLP/gRPC port.")
    otlp_http_port: int = Field(4318, ge=0, le=65535, description="OTLP/HTTP port.")
    allow_unauthenticated_bind: bool = Field(
        False,
        description="Allow binding a non-loopback address although no API key exists yet "
        "(anyone who can reach the port can then write traces).",
    )
    max_body_bytes: int = Field(
        64 * MIB, ge=1024, description="Largest request body accepted, measured after decompression."
    )
    media_max_bytes: int = Field(
        100 * MIB, ge=1024, description="Largest media file (image, audio, document) a Langfuse SDK may upload."
    )
    eval_worker: bool = Field(
        True,
        description="Run the background work in this process (``serve`` and ``query``): the LLM-as-a-judge "
        "worker, picking up UI experiments that a restart cut short, and the hourly sweep of unreferenced "
        "media. With several query processes on one ClickHouse server, keep it true in one, or in several "
        "with eval_worker_shards.",
    )
    eval_worker_shards: int = Field(
        1,
        ge=1,
        le=1024,
        description="How many processes share the LLM-as-a-judge jobs, each with its own eval_worker_shard; "
        "the same in all of them.",
    )
    eval_worker_shard: int = Field(
        0,
        ge=0,
        description="Which share of the judge jobs this process runs (0 to eval_worker_shards - 1). Shard 0 "
        "also does the rest of the background work.",
    )
    media_dir: Path | None = Field(
        None, description="Where uploaded media files are kept; by default the media folder of the data directory."
    )
    media_s3_endpoint: str | None = Field(
        None,
        description="An S3-compatible object store for media instead of media_dir, e.g. http://minio:9000 "
        "(needed when several Tracehouse processes share a ClickHouse server).",
    )
    media_s3_bucket: str = Field("tracehouse-media", description="The media bucket (made at start-up if missing).")
    media_s3_prefix: str = Field("", description="A prefix for the media objects' names inside the bucket.")
    media_s3_region: str = Field("", description="The object store's region, if it needs one.")
    media_s3_access_key: str = Field("", description="The object store's access key.")
    media_s3_secret_key: SecretStr = Field(SecretStr(""), description="The object store's secret key.")
    max_inflight_bytes: int = Field(
        256 * MIB,
        ge=1024,
        description="Bytes of requests being decoded or waiting for their commit; past it, receivers answer "
        "503 / UNAVAILABLE with a retry hint.",
    )
    min_free_disk_bytes: int = Field(
        512 * MIB,
        ge=0,
        description="Embedded store: free space kept on the data directory's disk for the store's own work "
        "(merges, sign-ins, deletes); while less is free, new data is refused with 503 / UNAVAILABLE and a "
        "retry hint. 0: never refused.",
    )
    ingest_wal: bool = Field(
        True,
        description="Embedded store: under load, acknowledge span batches once they are fsynced to a write-ahead "
        "log in the data directory and insert them a moment later in larger batches (replayed at start after a "
        "crash); false: every span batch is acknowledged after its own insert (a log left by a crash is still "
        "replayed).",
    )
    ingest_linger_ms: int = Field(
        250,
        ge=0,
        le=2000,
        description="How long logged span batches wait for more rows before their insert (their visibility delay).",
    )
    trace_cache_mb: int = Field(
        32,
        ge=0,
        le=65536,
        description=(
            "Memory for traces read recently, served again while nothing was written to them; a quarter"
            " more for the span batches inserted last, which serve a trace's first read (0: none)."
        ),
    )
    decode_workers: int = Field(
        -1,
        ge=-1,
        le=64,
        description="Processes that decode OTLP requests: -1 for one per core, 0 for a thread in the server process.",
    )
    request_head_timeout_s: float = Field(
        10.0,
        gt=0,
        description="A new connection that has not sent a whole request head by then is closed "
        "(slowloris, idle sockets); also the gRPC handshake deadline.",
    )
    idle_timeout_s: float = Field(
        75.0,
        gt=0,
        description="A keep-alive connection idle this long after its last response is closed.",
    )
    request_body_timeout_s: float = Field(
        60.0,
        gt=0,
        description="A request body that has not fully arrived by then is answered 408.",
    )
    shutdown_timeout_s: float = Field(
        10.0, gt=0, description="How long shutdown waits for in-flight requests to finish."
    )
    smtp_url: SecretStr | None = Field(
        None,
        description="SMTP server that emails invitation and password-reset links, e.g. "
        "smtp://user:password@host:587 (STARTTLS) or smtps://user:password@host:465; without it the links "
        "are only shown to whoever makes them.",
    )
    email_from: str = Field(
        "Tracehouse <tracehouse@localhost>", description="The From address of the emails Tracehouse sends."
    )
    public_url: str | None = Field(
        None,
        description="The address people open the UI at (e.g. https://traces.example.com), for links in emails "
        "and on screen; by default the address of the request that makes the link.",
    )
    oidc_issuer: str | None = Field(
        None,
        description="Single sign-on: the issuer URL of an OpenID Connect provider (Okta, Microsoft Entra ID, "
        "Google, Keycloak, Auth0...), e.g. https://accounts.google.com. Its redirect URI is "
        "<public URL>/api/v1/auth/sso/callback.",
    )
    oidc_client_id: str | None = Field(None, description="Single sign-on: this application's client id.")
    oidc_client_secret: SecretStr | None = Field(None, description="Single sign-on: this application's client secret.")
    oidc_name: str = Field("SSO", description="Single sign-on: the provider's name on the sign-in button.")
    oidc_domains: str = Field(
        "", description="Single sign-on: the email domains allowed to sign in, comma-separated (empty: any)."
    )
    oidc_scopes: str = Field(
        "openid email profile",
        description="Single sign-on: the scopes asked for. Add the one your provider needs for a groups claim "
        "(Okta: groups).",
    )
    oidc_groups_claim: str = Field(
        "groups", description="Single sign-on: the ID token's claim that lists the person's groups."
    )
    oidc_group_roles: str = Field(
        "",
        description="Single sign-on: roles given by group at each sign-in, ';'-separated "
        "group=organization:ROLE or group=organization/project:ROLE entries.",
    )
    password_login: bool = Field(
        True,
        description="Whether people may sign in with a password. false: only with single sign-on (the first "
        "account is still created with one, on the machine Tracehouse runs on).",
    )
    default_org: str | None = Field(
        None,
        description="The organization (id or name) every new account joins, signed in with single sign-on or "
        "not, without an invitation (as Langfuse's LANGFUSE_DEFAULT_ORG_ID).",
    )
    default_org_role: Literal["ADMIN", "MEMBER", "VIEWER", "NONE"] = Field(
        "VIEWER", description="The role new accounts get in TRACEHOUSE_DEFAULT_ORG."
    )
    default_project: str | None = Field(
        None,
        description="The project (id or name; in TRACEHOUSE_DEFAULT_ORG if set) every new account joins, "
        "without an invitation.",
    )
    default_project_role: Literal["ADMIN", "MEMBER", "VIEWER", "NONE"] = Field(
        "VIEWER", description="The role new accounts get in TRACEHOUSE_DEFAULT_PROJECT."
    )
    scim_role: Literal["ADMIN", "MEMBER", "VIEWER", "NONE"] = Field(
        "NONE",
        description="The role people provisioned by SCIM (an identity provider, with an organization API key) "
        "get in that organization; project roles are then given by admins or single sign-on's groups.",
    )
    backup_dir: Path | None = Field(
        None,
        description="Embedded store: back it up by itself into this directory (outside the data directory), "
        "every backup_every_hours, each in a folder named by its time, as tracehouse backup does.",
    )
    backup_every_hours: float = Field(24.0, gt=0, description="How often the scheduled backups are made.")
    backup_keep: int = Field(
        7, ge=1, description="How many of the newest scheduled backups stay restorable; older ones are deleted."
    )
    backup_whole_every: int = Field(
        7,
        ge=1,
        description="A whole backup, then backups on the newest one (what changed since) until a chain holds "
        "this many; 1: every backup whole.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")

    @field_validator("oidc_issuer")
    @classmethod
    def _check_issuer(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"the OIDC issuer is a URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_oidc(self) -> Settings:
        secret = self.oidc_client_secret.get_secret_value() if self.oidc_client_secret else ""
        if self.oidc_issuer and not (self.oidc_client_id and secret):
            raise ValueError("single sign-on needs TRACEHOUSE_OIDC_CLIENT_ID and TRACEHOUSE_OIDC_CLIENT_SECRET too")
        if self.oidc_group_roles.strip():
            parse_group_roles(self.oidc_group_roles)  # a wrong entry stops the start, saying which
            if not self.oidc_issuer:
                raise ValueError("TRACEHOUSE_OIDC_GROUP_ROLES needs single sign-on (TRACEHOUSE_OIDC_ISSUER)")
        if not self.password_login and not self.oidc_issuer:
            raise ValueError("TRACEHOUSE_PASSWORD_LOGIN=false needs single sign-on (TRACEHOUSE_OIDC_ISSUER)")
        return self

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"the public URL starts with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @field_validator("clickhouse_url", "clickhouse_read_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("clickhouse://", "clickhouses://")):
            raise ValueError(f"ClickHouse URLs start with clickhouse:// or clickhouses://, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check_shard(self) -> Settings:
        if self.eval_worker_shard >= self.eval_worker_shards:
            raise ValueError(
                f"eval_worker_shard is {self.eval_worker_shard}, but shards are numbered 0 to "
                f"{self.eval_worker_shards - 1} (eval_worker_shards is {self.eval_worker_shards})"
            )
        return self

    @model_validator(mode="after")
    def _check_backup_dir(self) -> Settings:
        if self.backup_dir is None:
            return self
        if not self.embedded:
            raise ValueError(
                "backup_dir backs up the embedded store; back up a ClickHouse server with its own BACKUP DATABASE"
            )
        backups, data = self.backup_dir.absolute(), self.data_dir.absolute()
        if backups == data or backups.is_relative_to(data) or data.is_relative_to(backups):
            raise ValueError(f"backup_dir ({self.backup_dir}) must lie outside the data directory ({self.data_dir})")
        return self

    @property
    def server_options(self) -> dict[str, object]:
        """What the ClickHouse server backend needs beyond the URL."""
        return {
            "read_url": self.clickhouse_read_url,
            "pool_size": self.clickhouse_pool_size,
            "async_insert": self.clickhouse_async_insert,
            "cluster": self.clickhouse_cluster,
        }

    @property
    def embedded(self) -> bool:
        """True when this process runs on the embedded chDB store."""
        return self.clickhouse_url is None


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    """Build the settings from explicit values (flags) over the environment, or raise ConfigError."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc
