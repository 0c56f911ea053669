"""Running the processes: ``serve`` (everything, embedded store), ``receiver`` and ``query``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import logging
import os
import secrets
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import grpc
import orjson
from aiohttp import web
from google.protobuf.internal import api_implementation

from credentials import Credentials
from credentials.oidc import OidcConfig
from evaluations import JobShard
from mail import Mailer, parse_smtp_url
from otlp_receiver.grpc_server import create_grpc_server
from otlp_receiver.http_server import OtlpHttpHandler, create_otlp_app
from otlp_receiver.ingest import IngestService, IngestSettings, default_decode_workers
from otlp_receiver.langfuse.routes import LangfuseRoutes
from otlp_receiver.langfuse.service import Access
from query_api import OtlpPorts, create_app
from query_api.provisioning import Provisioning
from storage import Store
from storage.journal import WAL_DIR
from tracehouse import __version__, compiled
from tracehouse.deadlines import BODY_TIMEOUT, DeadlineSite, HeadDeadline
from tracehouse.disk_reserve import DiskReserve
from tracehouse.errors import ConfigError
from tracehouse.roles import Role, parse_group_roles
from tracehouse.runtime import RuntimeInfo, remove_runtime, write_runtime
from tracehouse.settings import Settings, is_loopback
from tracehouse.start_up_heap import settle_start_up_heap
from tracehouse.telemetry import Telemetry
from tracehouse.without_pandas import keep_pandas_out

if TYPE_CHECKING:
    from storage.backup_schedule import BackupSchedule
    from storage.media_s3 import S3MediaFiles

__all__ = ["Component", "Running", "run", "running"]

log = logging.getLogger(__name__)

Component = str  # "api" | "receiver"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def check_protobuf_backend() -> None:
    """Parsing OTLP with the pure-Python protobuf is ~100x slower: say so loudly."""
    kind = api_implementation.Type()
    if kind != "upb":
        log.warning(
            "protobuf runs on the %r backend, not 'upb': OTLP parsing will be very slow. "
            "Unset PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION and install a protobuf wheel >= 4.21.",
            kind,
        )


def _mailer(settings: Settings) -> Mailer | None:
    """The SMTP mailer of the settings, if any (a bad URL stops the start, with why)."""
    if settings.smtp_url is None or not settings.smtp_url.get_secret_value():
        return None
    return Mailer(parse_smtp_url(settings.smtp_url.get_secret_value()), settings.email_from)


def _oidc(settings: Settings) -> OidcConfig | None:
    """Single sign-on's provider, if one is configured."""
    if not settings.oidc_issuer or settings.oidc_client_id is None or settings.oidc_client_secret is None:
        return None
    domains = tuple(d.strip().lower().lstrip("@") for d in settings.oidc_domains.split(",") if d.strip())
    return OidcConfig(settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret.get_secret_value(),
                      settings.oidc_name, domains, only=not settings.password_login, scopes=settings.oidc_scopes,
                      groups_claim=settings.oidc_groups_claim)  # fmt: skip


def _langfuse_sink(ingest: IngestService) -> Callable[[str, list[dict[str, Any]]], Awaitable[None]]:
    """Experiments started from the UI write their traces as Langfuse events through the ingest
    path, like any client: the same bound, group commit and durability."""

    async def sink(project_id: str, events: list[dict[str, Any]]) -> None:
        result = await ingest.ingest_langfuse(Access(project_id), events, len(orjson.dumps(events)))
        if result.errors:
            raise RuntimeError(f"the trace was not stored: {result.errors[0].get('message', result.errors[0])}")

    return sink


async def _check_bind(settings: Settings, store: Store) -> None:
    """Refuse to listen beyond this machine while anyone could write without a key."""
    if is_loopback(settings.host) or settings.allow_unauthenticated_bind:
        return
    if not await store.projects.has_keys():
        raise ConfigError(
            f"refusing to listen on {settings.host} with no API key yet: anyone who reaches the "
            f"port could write traces. Create a key first (tracehouse keys create --project default), "
            f"or pass --allow-unauthenticated-bind"
        )


# What each port is, and how to choose another, for the error when it cannot be had.
_PORTS = {
    "API": "--api-port (TRACEHOUSE_API_PORT)",
    "OTLP/HTTP": "--otlp-http-port (TRACEHOUSE_OTLP_HTTP_PORT)",
    "OTLP/gRPC": "--otlp-grpc-port (TRACEHOUSE_OTLP_GRPC_PORT)",
}


def _port_error(what: str, host: str, port: int, exc: OSError) -> ConfigError:
    option = _PORTS[what]
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(
            f"port {port} ({what}) on {host} is in use by another process (another Tracehouse, or an "
            f"OpenTelemetry Collector?): stop it, or pass another port with {option}; 0 picks a free one"
        )
    return ConfigError(f"cannot listen on {host}:{port} ({what}): {exc.strerror or exc}; pass another {option}")


def _check_port_free(what: str, host: str, port: int) -> None:
    """ConfigError unless ``port`` can be bound on ``host`` by this process alone (gRPC's own error is
    a log line of its C core, and it would share the port with SO_REUSEPORT)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is no owner
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise _port_error(what, host, port, exc) from None


async def _start_site(
    app: web.Application, host: str, port: int, settings: Settings, what: str
) -> tuple[web.AppRunner, int]:
    # Slow and idle clients get deadlines (tracehouse/deadlines.py); set before the app freezes.
    deadline = HeadDeadline(settings.request_head_timeout_s, settings.idle_timeout_s)
    app.middlewares.insert(0, deadline.middleware)
    app[BODY_TIMEOUT] = settings.request_body_timeout_s
    # auto_decompress off: the OTLP handler inflates gzip itself, with a limit and a clear 413.
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=settings.shutdown_timeout_s,
        auto_decompress=False,
        keepalive_timeout=settings.idle_timeout_s,
    )
    await runner.setup()
    try:
        await DeadlineSite(runner, host, port, deadline).start()
    except OSError as exc:
        await runner.cleanup()
        raise _port_error(what, host, port, exc) from None
    return runner, runner.addresses[0][1]


@dataclass
class Running:
    """What a started process serves, with the ports it really got."""

    store: Store
    ingest: IngestService | None
    api_url: str = ""
    otlp_http_url: str = ""
    otlp_grpc_address: str = ""
    change_hooks: list[Callable[[], None]] = field(default_factory=list)
    api_app: web.Application | None = None  # the API port's application, when this process serves it

    def changed(self) -> None:
        """Tell the caches of this process that projects or keys changed."""
        for hook in self.change_hooks:
            hook()


def media_object_store(settings: Settings) -> S3MediaFiles | None:
    """The S3-compatible store for media the settings name, if any."""
    if not settings.media_s3_endpoint:
        return None
    # Imported only when configured: the S3 client and its HTTP stack cost every server ~7 MB.
    from storage.media_s3 import S3MediaFiles

    try:
        return S3MediaFiles(
            settings.media_s3_endpoint,
            settings.media_s3_bucket,
            settings.media_s3_access_key,
            settings.media_s3_secret_key.get_secret_value(),
            settings.media_s3_region,
            settings.media_s3_prefix,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _backup_schedule(settings: Settings, store: Store, telemetry: Telemetry) -> BackupSchedule | None:
    """The scheduled backups the settings ask for (``backup_dir``), or None."""
    if settings.backup_dir is None:
        return None
    # Only here: it imports the embedded engine, which a process on a ClickHouse server never loads.
    from storage.backup_schedule import BackupSchedule, Schedule, held

    schedule = Schedule(
        settings.backup_dir.absolute(),
        dt.timedelta(hours=settings.backup_every_hours),
        settings.backup_keep,
        settings.backup_whole_every,
    )
    held_now = held(schedule.directory)
    if held_now:  # /metrics knows the newest from before a restart
        telemetry.backup_last_success.set(held_now[-1].created_at.timestamp())

    def done(at: dt.datetime | None) -> None:
        if at is None:
            telemetry.backup_failures.inc()
        else:
            telemetry.backup_last_success.set(at.timestamp())

    log.info("backups every %g h into %s, the newest %d kept", settings.backup_every_hours, schedule.directory,
             settings.backup_keep)  # fmt: skip
    return BackupSchedule(store, schedule, on_done=done)


def _disk_reserve(settings: Settings, telemetry: Telemetry) -> DiskReserve | None:
    """The embedded store's free-space reserve (a ClickHouse server's disk is its own), watched in
    ``/metrics``; None when turned off."""
    if not settings.embedded or not settings.min_free_disk_bytes:
        return None
    reserve = DiskReserve(settings.data_dir, settings.min_free_disk_bytes)
    reserve.state()  # a disk already short of it is in the log from the start, not from the first sender
    telemetry.watch_disk(reserve)
    return reserve


@contextlib.asynccontextmanager
async def running(settings: Settings, components: Collection[Component]) -> AsyncIterator[Running]:
    """Open the store, start the components' listeners, and stop them all on exit."""
    media = media_object_store(settings)
    if media is not None:
        await media.ensure_bucket()  # a wrong endpoint or key fails the start, not the first upload
    store = await Store.open(
        data_dir=settings.data_dir,
        clickhouse_url=settings.clickhouse_url,
        server_options=settings.server_options,
        media_dir=settings.media_dir or settings.data_dir / "media",
        media=media,
        trace_cache_bytes=settings.trace_cache_mb * 1024 * 1024,
    )
    telemetry = Telemetry()  # one registry for every port of this process
    runners: list[web.AppRunner] = []
    grpc_server: grpc.aio.Server | None = None
    ingest: IngestService | None = None
    api_app: web.Application | None = None
    background: list[asyncio.Task[None]] = []
    try:
        await _check_bind(settings, store)
        host = _url_host(settings.host)
        info = {"otlp_http_url": "", "otlp_grpc_address": ""}
        otlp_routes: list[web.RouteDef] = []
        disk = _disk_reserve(settings, telemetry)
        # One credentials cache for every port of this process, and one hook that clears it.
        auth = Credentials.of(store, loopback=is_loopback(settings.host))
        hooks: list[Callable[[], None]] = [auth.invalidate]
        if components:
            # Every process that serves a port writes through the one ingest path: the
            # receiver's OTLP and Langfuse traffic, and the API's own writes (the Langfuse write
            # API on its port, scores from people and judges, experiment traces).
            check_protobuf_backend()
            workers = settings.decode_workers
            if workers < 0:
                # By core count where OTLP is received; the query process alone decodes in a
                # thread: it takes only the Langfuse clients' share, in pods sized for reads.
                workers = default_decode_workers() if "receiver" in components else 0
            # The span write-ahead log lives beside the embedded store (a ClickHouse server has
            # no data directory of ours; its receivers answer after their inserts). With the log
            # turned off, what a crash left in it is still replayed.
            wal_dir = settings.data_dir / WAL_DIR if settings.embedded else None
            ingest = IngestService(
                store,
                IngestSettings(
                    settings.max_body_bytes,
                    settings.max_inflight_bytes,
                    workers,
                    wal_dir=wal_dir,
                    log_batches=settings.ingest_wal,
                    linger_s=settings.ingest_linger_ms / 1000,
                    disk=disk,
                ),
                telemetry,
            )
            await ingest.__aenter__()
            hooks.append(ingest.invalidate)
            store.lifecycle.writes_caught_up = ingest.batcher.caught_up
            handler = OtlpHttpHandler(ingest, auth, settings.max_body_bytes)
            langfuse = LangfuseRoutes(ingest, auth)
            # The API port also takes what Langfuse clients send (the Langfuse write API and its
            # OTLP endpoint), so that Dify and the SDKs need one host, also with `query` alone.
            otlp_routes = [r for r in handler.routes() if "api/public/otel" in r.path] + langfuse.routes()
        # Where exporters send, for the UI's snippets: as configured when the receiver runs apart.
        otlp_ports = OtlpPorts(http=settings.otlp_http_port, grpc=settings.otlp_grpc_port)
        if "receiver" in components:
            assert ingest is not None
            runner, port = await _start_site(
                create_otlp_app(handler, extra_routes=langfuse.routes()),
                settings.host,
                settings.otlp_http_port,
                settings,
                "OTLP/HTTP",
            )
            runners.append(runner)
            info["otlp_http_url"] = f"http://{host}:{port}"
            grpc_server = create_grpc_server(
                ingest, auth, settings.max_body_bytes, settings.request_head_timeout_s, settings.idle_timeout_s
            )
            _check_port_free("OTLP/gRPC", settings.host, settings.otlp_grpc_port)
            try:
                grpc_port = grpc_server.add_insecure_port(f"{_grpc_host(settings.host)}:{settings.otlp_grpc_port}")
            except RuntimeError:  # taken between the check and now
                raise _port_error(
                    "OTLP/gRPC", settings.host, settings.otlp_grpc_port, OSError(errno.EADDRINUSE, "in use")
                ) from None
            await grpc_server.start()
            info["otlp_grpc_address"] = f"{host}:{grpc_port}"
            otlp_ports = OtlpPorts(http=port, grpc=grpc_port)
            log.info("OTLP/HTTP on %s, OTLP/gRPC on %s", info["otlp_http_url"], info["otlp_grpc_address"])
        admin_token = secrets.token_urlsafe(32)
        backups = _backup_schedule(settings, store, telemetry)
        if "api" in components:
            app = create_app(
                store,
                admin_token,
                extra_routes=otlp_routes,
                change_hooks=hooks,
                client_max_size=settings.max_body_bytes,
                telemetry=telemetry,
                loopback_bind=is_loopback(settings.host),
                media_max_bytes=settings.media_max_bytes,
                credentials=auth,
                trace_sink=_langfuse_sink(ingest) if ingest is not None else None,
                eval_worker=settings.eval_worker,
                eval_shard=JobShard(settings.eval_worker_shard, settings.eval_worker_shards),
                mailer=_mailer(settings),
                public_url=settings.public_url,
                oidc=_oidc(settings),
                provisioning=Provisioning(
                    settings.default_org,
                    Role(settings.default_org_role),
                    settings.default_project,
                    Role(settings.default_project_role),
                    parse_group_roles(settings.oidc_group_roles),
                    Role(settings.scim_role),
                ),
                otlp_ports=otlp_ports,
                backups=backups,
                disk=disk,
            )
            api_app = app
            runner, port = await _start_site(app, settings.host, settings.api_port, settings, "API")
            runners.append(runner)
            api_url = f"http://{host}:{port}"
            log.info("API and UI on %s", api_url)
            if settings.embedded:
                write_runtime(settings.data_dir, RuntimeInfo(os.getpid(), api_url, admin_token, **info))
        else:
            api_url = ""
        if backups is not None:
            background.append(asyncio.create_task(backups.run(), name="scheduled backups"))
        where = f"embedded store in {settings.data_dir}" if settings.embedded else "ClickHouse server"
        # Start-up (migrations, the first queries, the app) ran code of the engine that serving
        # may never run again: its pages go back, and come back from the file if used.
        released = store.release_start_up_memory()
        log.info("span decoder: %s", compiled.status())
        log.info("Tracehouse %s ready (%s); %d MB of start-up pages released", __version__, where, released >> 20)
        yield Running(store, ingest, api_url, info["otlp_http_url"], info["otlp_grpc_address"], hooks, api_app)
    finally:
        log.info("shutting down")
        for task in background:  # a backup under way is given up: it leaves nothing behind
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if settings.embedded:
            remove_runtime(settings.data_dir)
        # Stop accepting first, let in-flight requests finish, then commit what is queued.
        if grpc_server is not None:
            await grpc_server.stop(settings.shutdown_timeout_s)
        for runner in runners:
            await runner.cleanup()
        if ingest is not None:
            await ingest.__aexit__(None, None, None)
        await store.close()
        log.info("stopped")


def _grpc_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def run(settings: Settings, components: Collection[Component]) -> None:
    """Serve until SIGINT or SIGTERM, then finish in-flight work and return."""
    keep_pandas_out()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running(settings, components):
            settle_start_up_heap()  # once started: later full collections skip start-up's objects
            await stop.wait()

    asyncio.run(main())
