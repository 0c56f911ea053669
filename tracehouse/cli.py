"""The ``tracehouse`` command."""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tracehouse import __version__
from tracehouse.errors import ConfigError, TracehouseError
from tracehouse.settings import Settings, load_settings

__all__ = ["main"]

DESCRIPTION = """\
Tracehouse: an OpenTelemetry-native trace backend for LLM applications.

Start here:  tracehouse serve
  then send OTLP traces to http://127.0.0.1:4318 (HTTP) or 127.0.0.1:4317 (gRPC)
  and open http://127.0.0.1:3000 in a browser.
"""

EPILOG = """\
Every option can also be set in the environment as TRACEHOUSE_<NAME>, e.g.
TRACEHOUSE_DATA_DIR or TRACEHOUSE_CLICKHOUSE_URL; options on the command line win.
Run 'tracehouse COMMAND --help' for the options of one command.
"""


def _store_options(parser: argparse.ArgumentParser, *, server_only: bool = False) -> None:
    group = parser.add_argument_group("store")
    if not server_only:
        group.add_argument(
            "--data-dir",
            type=Path,
            metavar="DIR",
            help="directory of the embedded store (default ./tracehouse-data; env TRACEHOUSE_DATA_DIR)",
        )
    group.add_argument(
        "--clickhouse",
        dest="clickhouse_url",
        metavar="URL",
        required=False,
        help="use a ClickHouse server instead of the embedded store, "
        "e.g. clickhouse://user:pass@host:9000/db (env TRACEHOUSE_CLICKHOUSE_URL)",
    )


def _server_options(parser: argparse.ArgumentParser, *, api: bool, otlp: bool) -> None:
    group = parser.add_argument_group("network")
    group.add_argument("--host", help="address to listen on (default 127.0.0.1; env TRACEHOUSE_HOST)")
    if api:
        group.add_argument("--api-port", type=int, help="HTTP port of the API and UI (default 3000)")
    if otlp:
        group.add_argument("--otlp-grpc-port", type=int, help="OTLP/gRPC port (default 4317)")
        group.add_argument("--otlp-http-port", type=int, help="OTLP/HTTP port (default 4318)")
        group.add_argument(
            "--decode-workers",
            type=int,
            metavar="N",
            help="processes decoding OTLP requests (default -1: by core count; 0: a thread)",
        )
    group.add_argument(
        "--allow-unauthenticated-bind",
        action="store_true",
        default=None,
        help="listen on a non-loopback address even though no API key exists yet",
    )
    logs = parser.add_argument_group("logging")
    logs.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    logs.add_argument("--log-format", choices=["text", "json"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracehouse",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tracehouse {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run everything in one process (receiver, API, UI) on the embedded store",
        description="Run the OTLP receiver, the API and the UI in one process. With no options the "
        "data lives in ./tracehouse-data (embedded ClickHouse); nothing else to install or start.",
    )
    _store_options(serve)
    _server_options(serve, api=True, otlp=True)

    receiver = commands.add_parser(
        "receiver",
        help="run only the OTLP receiver, on a ClickHouse server (scale out by running several)",
    )
    _store_options(receiver, server_only=True)
    _server_options(receiver, api=False, otlp=True)

    query = commands.add_parser("query", help="run only the API and UI, on a ClickHouse server")
    _store_options(query, server_only=True)
    _server_options(query, api=True, otlp=False)

    worker = commands.add_parser(
        "worker",
        help="run the background work (LLM-as-a-judge, cut-short experiments), on a ClickHouse server; "
        "several share it by --shard",
        description="A query process that always runs the background work: the LLM-as-a-judge jobs of "
        "its shard, and (shard 0) experiments a restart cut short and the media sweep. Run N of them, "
        "each with --shards N and its own --shard, and no job runs twice.",
    )
    _store_options(worker, server_only=True)
    _server_options(worker, api=True, otlp=False)
    shards = worker.add_argument_group("shards")
    shards.add_argument(
        "--shard",
        dest="eval_worker_shard",
        type=int,
        metavar="I",
        help="this worker's shard of the jobs, 0 to N-1 (default 0; env TRACEHOUSE_EVAL_WORKER_SHARD)",
    )
    shards.add_argument(
        "--shards",
        dest="eval_worker_shards",
        type=int,
        metavar="N",
        help="how many workers share the jobs (default 1; env TRACEHOUSE_EVAL_WORKER_SHARDS)",
    )

    orgs = commands.add_parser("orgs", help="list and create organizations (they hold projects)")
    org_cmds = orgs.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = org_cmds.add_parser("list", help="list organizations")
    _store_options(p)
    p = org_cmds.add_parser("create", help="create an organization")
    p.add_argument("name")
    _store_options(p)

    projects = commands.add_parser("projects", help="list, create and delete projects")
    project_cmds = projects.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = project_cmds.add_parser("list", help="list projects")
    _store_options(p)
    p = project_cmds.add_parser("create", help="create a project")
    p.add_argument("name")
    p.add_argument("--retention-days", type=int, default=0, help="delete traces older than this (0 = keep)")
    p.add_argument("--org", default="default", help="the organization (id or name) that holds it")
    _store_options(p)
    p = project_cmds.add_parser("delete", help="delete a project and all its data, and revoke its keys")
    p.add_argument("project", help="project id or name")
    _store_options(p)

    p = project_cmds.add_parser("retention", help="keep a project's data N days (0: forever), existing data included")
    p.add_argument("project", help="project id or name")
    p.add_argument("days", type=int)
    _store_options(p)

    delete = commands.add_parser("delete", help="delete a trace, or all traces of a session or a user (GDPR)")
    delete.add_argument("kind", choices=["trace", "session", "user"])
    delete.add_argument("id", help="trace id, session id or user id")
    delete.add_argument("--project", default="default", help="project id or name (default: default)")
    _store_options(delete)

    keys = commands.add_parser("keys", help="create, list and revoke API key pairs")
    key_cmds = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    k = key_cmds.add_parser("create", help="create a key pair (the secret is shown once)")
    k.add_argument("--project", default="default", help="project id or name (default: default)")
    k.add_argument("--note", default="", help="a note to recognise the key by")
    _store_options(k)
    k = key_cmds.add_parser("list", help="list key pairs (secrets are never shown)")
    k.add_argument("--project", help="only this project's keys")
    _store_options(k)
    k = key_cmds.add_parser("revoke", help="revoke a key pair at once")
    k.add_argument("public_key")
    _store_options(k)

    users = commands.add_parser("users", help="list accounts; make a password-reset link (a forgotten admin password)")
    user_cmds = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    u = user_cmds.add_parser("list", help="list the accounts that sign in to the UI")
    _store_options(u)
    u = user_cmds.add_parser("reset-password", help="make a one-time link (valid a day) that sets a new password")
    u.add_argument("email")
    _store_options(u)

    doctor = commands.add_parser("doctor", help="check the store, schema, clock, ports and disk")
    _store_options(doctor)
    doctor.add_argument("--host", help="address the server would listen on")
    doctor.add_argument("--api-port", type=int)
    doctor.add_argument("--otlp-grpc-port", type=int)
    doctor.add_argument("--otlp-http-port", type=int)

    backup = commands.add_parser(
        "backup", help="copy the embedded store into a new directory, while it serves (tracehouse restore reads it)"
    )
    _store_options(backup)
    backup.add_argument("--to", required=True, metavar="DIR", help="a new (or empty) directory for the backup")
    backup.add_argument(
        "--base",
        metavar="DIR",
        help="an earlier backup: copy only what changed since (restoring needs it where it is)",
    )
    restore = commands.add_parser("restore", help="make a new data directory from a backup, to serve it")
    restore.add_argument("--from", dest="source", required=True, metavar="DIR", help="the backup's directory")
    _store_options(restore)

    migrate = commands.add_parser("migrate", help="apply pending schema migrations and exit")
    _store_options(migrate)

    commands.add_parser("compile", help="compile the span decoder to C with mypyc (needs a C compiler; ./dev runs it)")

    schema = commands.add_parser("schema", help="print the schema's SQL (e.g. for a cluster)")
    schema.add_argument("--cluster", metavar="NAME", help="print the ON CLUSTER form for this cluster")
    schema.add_argument("--database", default="default", help="database of the cluster tables")
    return parser


def _settings(args: argparse.Namespace, **fixed: object) -> Settings:
    names = set(Settings.model_fields)
    return load_settings(**{k: v for k, v in vars(args).items() if k in names}, **fixed)


def _print_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _admin(settings: Settings, op: str, **kwargs: Any) -> Any:
    from tracehouse.admin_client import admin

    return asyncio.run(admin(settings, op, **kwargs))


def _run_projects(args: argparse.Namespace, settings: Settings) -> None:
    if args.action == "list":
        result = _admin(settings, "list_projects")
        _print_table(result["data"], ["id", "name", "organization_id", "retention_days", "created_at"])
    elif args.action == "create":
        project = _admin(
            settings, "create_project", name=args.name, retention_days=args.retention_days, organization=args.org
        )
        print(f"created project {project['name']!r} with id {project['id']}")
    elif args.action == "delete":
        project = _admin(settings, "delete_project", ref=args.project)
        print(f"deleted project {project['name']!r} ({project['id']}) and its data; its keys are revoked")
    elif args.action == "retention":
        project = _admin(settings, "set_retention", ref=args.project, days=args.days)
        kept = f"{project['retention_days']} days" if project["retention_days"] else "forever"
        print(f"project {project['name']!r} keeps its data {kept}; older data is deleted now")


def _run_orgs(args: argparse.Namespace, settings: Settings) -> None:
    if args.action == "list":
        _print_table(_admin(settings, "list_organizations")["data"], ["id", "name"])
    else:
        org = _admin(settings, "create_organization", name=args.name)
        print(f"created organization {org['name']!r} with id {org['id']}")


def _run_keys(args: argparse.Namespace, settings: Settings) -> None:
    if args.action == "create":
        pair = _admin(settings, "create_key", project=args.project, note=args.note)
        print(f"Created an API key pair for project {pair['project_id']}.")
        print("The secret key is shown only now: store it safely.\n")
        print(f"  public key:  {pair['public_key']}")
        print(f"  secret key:  {pair['secret_key']}\n")
        token = base64.b64encode(f"{pair['public_key']}:{pair['secret_key']}".encode()).decode()
        print("OpenTelemetry exporters (environment):")
        print(f"  OTEL_EXPORTER_OTLP_HEADERS=Authorization=Basic%20{token}")
        print("Langfuse SDKs and Dify's Langfuse form: the two keys above, host http://<this host>:3000")
    elif args.action == "list":
        result = _admin(settings, "list_keys", project=args.project)
        rows = [{**k, "status": "revoked" if k["revoked_at"] else "active"} for k in result["data"]]
        _print_table(rows, ["public_key", "secret_hint", "project_id", "status", "note", "created_at"])
    elif args.action == "revoke":
        key = _admin(settings, "revoke_key", public_key=args.public_key)
        print(f"revoked {key['public_key']} (project {key['project_id']})")


def _run_users(args: argparse.Namespace, settings: Settings) -> None:
    if args.action == "list":
        rows = [{**u, "admin": "yes" if u["is_admin"] else ""} for u in _admin(settings, "list_users")["data"]]
        _print_table(rows, ["email", "name", "admin", "id"])
    elif args.action == "reset-password":
        reset = _admin(settings, "reset_password", email=args.email)
        until = dt.datetime.fromisoformat(reset["expires_at"]).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(f"Open this link to set a new password for {reset['email']} (once, until {until}):\n")
        print(f"  {reset['url']}\n")
        print("Anyone holding the link can take over the account: give it to its owner only.")


def _run_backup(args: argparse.Namespace, settings: Settings) -> None:
    if not settings.embedded:
        raise ConfigError(
            "tracehouse backup copies the embedded store: back up a ClickHouse server with its own "
            "BACKUP DATABASE, beside the encryption key and the media bucket"
        )
    # The server may run elsewhere in the file system's view (its own working directory).
    base = {"base": str(Path(args.base).absolute())} if args.base else {}
    done = _admin(settings, "backup", to=str(Path(args.to).absolute()), **base)
    print(f"backed up the store (schema version {done['schema_version']}) to {done['path']}")
    if done.get("base"):
        print(f"  what changed since the backup in {done['base']}: keep that one where it is to restore this")
    size, took = done["bytes"] / 1e6, done["seconds"]
    print(f"  {size:,.1f} MB in {took:.1f} s; everything acknowledged before it began is in it")
    print(f"restore it with: tracehouse restore --from {done['path']} --data-dir <a new directory>")


def _run_restore(args: argparse.Namespace, settings: Settings) -> None:
    from storage.backup import restore

    if not settings.embedded:
        raise ConfigError("tracehouse restore makes an embedded store's data directory: pass --data-dir")
    done = asyncio.run(restore(Path(args.source), settings.data_dir))
    print(f"restored the backup of {done['created_at']} (schema version {done['schema_version']}) into {done['path']}")
    print(f"serve it with: tracehouse serve --data-dir {done['path']}")


def _run_migrate(settings: Settings) -> None:
    from storage import Store

    async def go() -> int:
        async with await Store.open(
            data_dir=settings.data_dir, clickhouse_url=settings.clickhouse_url, server_options=settings.server_options
        ) as store:
            return await store.schema_version()

    print(f"schema is at version {asyncio.run(go())}")


def _run_schema(args: argparse.Namespace) -> None:
    from storage.migrations import MIGRATIONS, cluster_statements, statements

    if args.cluster:
        out = cluster_statements(args.cluster, args.database)
    else:
        out = [s for m in MIGRATIONS for s in statements(m)]
    print(";\n\n".join(out) + ";")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tracehouse`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "schema":
            _run_schema(args)
            return 0
        if args.command == "compile":
            from tracehouse import compiled

            return compiled.main()
        settings = _settings(args, eval_worker=True) if args.command == "worker" else _settings(args)
        from tracehouse.logs import setup_logging

        setup_logging(settings.log_level, settings.log_format)
        if args.command in ("receiver", "query", "worker") and settings.embedded:
            raise ConfigError(
                f"'tracehouse {args.command}' runs on a ClickHouse server: pass --clickhouse URL "
                f"(or TRACEHOUSE_CLICKHOUSE_URL); for one machine use 'tracehouse serve'"
            )
        if args.command in ("serve", "receiver", "query", "worker"):
            from tracehouse.server import run

            components = {
                "serve": ("api", "receiver"),
                "receiver": ("receiver",),
                "query": ("api",),
                "worker": ("api",),  # the API port too: health probes, and the same code as query
            }
            run(settings, components[args.command])
        elif args.command == "orgs":
            _run_orgs(args, settings)
        elif args.command == "projects":
            _run_projects(args, settings)
        elif args.command == "keys":
            _run_keys(args, settings)
        elif args.command == "users":
            _run_users(args, settings)
        elif args.command == "delete":
            result = _admin(settings, "delete_data", kind=args.kind, id=args.id, project=args.project)
            print(f"deleted {result['deleted_traces']} trace(s) from every table")
        elif args.command == "doctor":
            from tracehouse.doctor import run_checks

            checks = run_checks(settings)
            for check in checks:
                print(f"{'ok ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
            return 0 if all(c.ok for c in checks) else 1
        elif args.command == "migrate":
            _run_migrate(settings)
        elif args.command == "backup":
            _run_backup(args, settings)
        elif args.command == "restore":
            _run_restore(args, settings)
        return 0
    except TracehouseError as exc:
        print(f"tracehouse: error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
