"""The ``tracehouse`` command as a user runs it: real processes, real data directories."""

import asyncio
import base64
import json
import signal
import urllib.request
from pathlib import Path

import pytest

from otlp_receiver.grpc_server import create_grpc_server
from tests.conftest import TIKTOKEN_CACHE, Server, call_json, run_cli, start_server


def test_health_restart_keeps_data_and_sigterm_exits_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    srv = start_server(data_dir)
    try:
        status, body = srv.get("/api/public/health")
        assert status == 200 and body["status"] == "OK" and body["version"]
        created = run_cli("projects", "create", "kept", "--data-dir", str(data_dir))
        assert created.returncode == 0, created.stderr
    finally:
        assert srv.stop(signal.SIGTERM) == 0
    assert "stopped" in srv.log()
    assert not (data_dir / "server.json").exists()

    again = start_server(data_dir)
    try:
        listed = run_cli("projects", "list", "--data-dir", str(data_dir))
        assert "kept" in listed.stdout
    finally:
        assert again.stop(signal.SIGINT) == 0


def test_second_process_on_same_directory_gets_one_clear_line(server: Server) -> None:
    second = run_cli("serve", "--data-dir", str(server.data_dir), "--api-port", "0")
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "in use by another Tracehouse process" in lines[0]
    assert f"pid {server.process.pid}" in lines[0]
    assert "Traceback" not in second.stderr


def test_projects_and_keys_while_the_server_holds_the_store(server: Server) -> None:
    d = ["--data-dir", str(server.data_dir)]
    created = run_cli("projects", "create", "shop", "--retention-days", "7", *d)
    assert created.returncode == 0, created.stderr
    listed = run_cli("projects", "list", *d)
    assert "shop" in listed.stdout and "default" in listed.stdout

    key = run_cli("keys", "create", "--project", "shop", "--note", "laptop", *d)
    assert key.returncode == 0, key.stderr
    public = next(w for w in key.stdout.split() if w.startswith("pk-th-"))
    secret = next(w for w in key.stdout.split() if w.startswith("sk-th-"))

    keys = run_cli("keys", "list", *d)
    assert public in keys.stdout and "active" in keys.stdout
    assert secret not in keys.stdout and secret.removeprefix("sk-th-") not in keys.stdout

    revoked = run_cli("keys", "revoke", public, *d)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert "revoked" in run_cli("keys", "list", "--project", "shop", *d).stdout

    missing = run_cli("keys", "create", "--project", "nope", *d)
    assert missing.returncode == 1 and "no project" in missing.stderr
    assert secret not in server.log()
    # The commands went through the server's admin endpoint: its audit log names them.
    reader = run_cli("keys", "create", "--project", "shop", *d)
    pair = [w for w in reader.stdout.split() if w.startswith(("pk-th-", "sk-th-"))]
    token = base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()
    status, doc = server.get("/api/v1/audit-log", headers={"Authorization": f"Basic {token}"})
    assert status == 200, doc
    logged = [(e["method"], e["route"], e["actor"]["kind"]) for e in doc["items"]]
    assert logged == [
        ("POST", "/api/admin/keys", "admin_token"),
        ("POST", "/api/admin/keys/{public_key}/revoke", "admin_token"),
        ("POST", "/api/admin/keys", "admin_token"),
        ("POST", "/api/admin/projects", "admin_token"),
    ], logged
    assert doc["items"][1]["target"] == {"public_key": public} and secret not in str(doc)


def test_projects_and_keys_without_a_server(tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path / "data")]
    assert run_cli("projects", "create", "offline", *d).returncode == 0
    key = run_cli("keys", "create", "--project", "offline", *d)
    assert key.returncode == 0 and "sk-th-" in key.stdout
    duplicate = run_cli("projects", "create", "offline", *d)
    assert duplicate.returncode == 1 and "exists already" in duplicate.stderr
    deleted = run_cli("projects", "delete", "offline", *d)
    assert deleted.returncode == 0 and "revoked" in deleted.stdout


def _reset_link(printed: str) -> str:
    return next(w for w in printed.split() if "/invite/" in w)


def test_a_forgotten_admin_password_is_reset_from_the_machine_while_serving(server: Server) -> None:
    """Nobody may reset the instance admin's password in the UI; ``tracehouse users
    reset-password`` on the machine makes the one-time link that does."""
    d = ["--data-dir", str(server.data_dir)]
    assert run_cli("users", "list", *d).stdout.strip() == "(none)"
    account = {"email": "ada@example.com", "name": "Ada", "password": "forgotten already"}
    assert call_json(server.api_url + "/api/v1/auth/setup", "POST", account)[0] == 200
    listed = run_cli("users", "list", *d)
    assert listed.returncode == 0 and "ada@example.com" in listed.stdout and "yes" in listed.stdout, listed

    unknown = run_cli("users", "reset-password", "bob@example.com", *d)
    assert unknown.returncode == 1 and "no account for 'bob@example.com'" in unknown.stderr
    made = run_cli("users", "reset-password", "ADA@example.com", *d)
    assert made.returncode == 0, made.stderr
    link = _reset_link(made.stdout)
    assert link.startswith(server.api_url + "/invite/")
    token = link.rsplit("/", 1)[1]
    status, shown = call_json(f"{server.api_url}/api/v1/invitations/{token}")
    assert status == 200 and (shown["kind"], shown["email"]) == ("reset", "ada@example.com"), shown
    assert call_json(f"{server.api_url}/api/v1/invitations/{token}/accept", "POST", {"password": "short"})[0] == 400
    assert (
        call_json(f"{server.api_url}/api/v1/invitations/{token}/accept", "POST", {"password": "a new one, long"})[0]
        == 200
    )
    login = server.api_url + "/api/v1/auth/login"
    assert call_json(login, "POST", {"email": "ada@example.com", "password": "a new one, long"})[0] == 200
    assert call_json(login, "POST", {"email": "ada@example.com", "password": "forgotten already"})[0] == 401
    assert call_json(f"{server.api_url}/api/v1/invitations/{token}/accept", "POST", {"password": "x" * 12})[0] == 404
    # The organization's audit log names the reset and its account, never the link.
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    again = json.dumps({"email": "ada@example.com", "password": "a new one, long"}).encode()
    signed_in = urllib.request.Request(login, data=again, headers={"Content-Type": "application/json"})
    browser.open(signed_in, timeout=30).read()
    doc = json.loads(browser.open(server.api_url + "/api/v1/audit-log?organization=default", timeout=30).read())
    [entry] = [e for e in doc["items"] if e["route"] == "/api/admin/users/password-reset"]
    assert entry["status"] == 201 and "ada@example.com" in json.dumps(entry) and token not in json.dumps(doc)


def test_a_password_reset_link_made_while_no_server_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    account = {"email": "ada@example.com", "name": "Ada", "password": "forgotten already"}
    assert call_json(first.api_url + "/api/v1/auth/setup", "POST", account)[0] == 200
    first.stop()
    made = run_cli("users", "reset-password", "ada@example.com", "--data-dir", str(data),
                   TRACEHOUSE_PUBLIC_URL="https://traces.example.com")  # fmt: skip
    assert made.returncode == 0, made.stderr
    link = _reset_link(made.stdout)
    assert link.startswith("https://traces.example.com/invite/")
    again = start_server(data)
    try:
        token = link.rsplit("/", 1)[1]
        assert (
            call_json(f"{again.api_url}/api/v1/invitations/{token}/accept", "POST", {"password": "a new one, long"})[0]
            == 200
        )
        login = {"email": "ada@example.com", "password": "a new one, long"}
        assert call_json(again.api_url + "/api/v1/auth/login", "POST", login)[0] == 200
        garbage = run_cli("users", "reset-password", "", "--data-dir", str(data))
        assert garbage.returncode == 1 and "tracehouse: error:" in garbage.stderr
    finally:
        again.stop()


def test_admin_endpoint_refuses_without_the_token(server: Server) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        request = urllib.request.Request(server.api_url + "/api/admin/projects", headers=headers)
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("admin endpoint answered without the token")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
            assert json.loads(exc.read())["error"]["code"] == "unauthenticated"
    token = json.loads((server.data_dir / "server.json").read_text())["admin_token"]
    garbage = urllib.request.Request(
        server.api_url + "/api/admin/projects",
        data=b"{not json",
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(garbage, timeout=10)
        raise AssertionError("garbage accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 400
    assert server.get("/api/public/health")[0] == 200  # still healthy


def test_server_mode_commands_need_a_clickhouse_url(tmp_path: Path) -> None:
    result = run_cli("query", cwd=tmp_path)
    assert result.returncode == 1
    assert "--clickhouse" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_clickhouse_is_a_clear_start_up_error(tmp_path: Path) -> None:
    result = run_cli("query", "--clickhouse", "clickhouse://u:topsecret@127.0.0.1:1/db", cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot reach ClickHouse at clickhouse://u:***@127.0.0.1:1/db" in result.stderr
    assert "topsecret" not in result.stderr and "Traceback" not in result.stderr


def test_a_worker_shard_outside_the_shards_is_a_clear_start_up_error(tmp_path: Path) -> None:
    result = run_cli(
        "serve",
        "--data-dir",
        str(tmp_path / "d"),
        "--api-port",
        "0",
        TRACEHOUSE_EVAL_WORKER_SHARD="2",
        TRACEHOUSE_EVAL_WORKER_SHARDS="2",
    )
    assert result.returncode == 1
    assert "shards are numbered 0 to 1" in result.stderr and "Traceback" not in result.stderr
    # The worker command takes them as options, and needs a ClickHouse server.
    result = run_cli("worker", "--clickhouse", "clickhouse://u:p@127.0.0.1:1/db", "--shards", "3", "--shard", "3")
    assert result.returncode == 1 and "shards are numbered 0 to 2" in result.stderr
    result = run_cli("worker", "--shards", "2", "--shard", "1")
    assert result.returncode == 1 and "--clickhouse" in result.stderr and "Traceback" not in result.stderr


def test_the_worker_command_always_runs_the_background_work() -> None:
    from tracehouse.cli import _settings, build_parser

    args = build_parser().parse_args(["worker", "--clickhouse", "clickhouse://u:p@h:9000/db", "--shards", "3"])
    settings = _settings(args, eval_worker=True)
    assert (settings.eval_worker, settings.eval_worker_shard, settings.eval_worker_shards) == (True, 0, 3)


def test_public_bind_without_keys_is_refused(tmp_path: Path) -> None:
    result = run_cli("serve", "--data-dir", str(tmp_path / "d"), "--host", "0.0.0.0", "--api-port", "0")
    assert result.returncode == 1
    assert "refusing to listen on 0.0.0.0" in result.stderr


def test_help_explains_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("serve", "receiver", "query", "projects", "keys", "users", "backup", "restore"):
        assert command in result.stdout
    assert "TRACEHOUSE_" in result.stdout


def test_schema_command_prints_cluster_ddl() -> None:
    result = run_cli("schema", "--cluster", "prod", "--database", "traces")
    assert result.returncode == 0
    assert "ON CLUSTER 'prod'" in result.stdout and "Distributed('prod', 'traces'" in result.stdout


def test_delete_and_retention_commands_while_serving(server: Server) -> None:
    from tests.otlp_data import request

    trace = b"\x42" * 16
    body = request([{"trace_id": trace, "attrs": {"user.id": "gdpr-user"}}]).SerializeToString()
    post = urllib.request.Request(
        server.otlp_http_url + "/v1/traces",
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-protobuf"},
    )
    with urllib.request.urlopen(post, timeout=10) as response:
        assert response.status == 200
    assert server.get(f"/api/v1/traces/{trace.hex()}")[0] == 200
    d = ["--data-dir", str(server.data_dir)]
    deleted = run_cli("delete", "user", "gdpr-user", *d)
    assert deleted.returncode == 0 and "deleted 1 trace(s)" in deleted.stdout, deleted.stderr
    assert server.get(f"/api/v1/traces/{trace.hex()}")[0] == 404
    missing = run_cli("delete", "trace", "f" * 32, *d)
    assert missing.returncode == 1 and "no trace" in missing.stderr
    kept = run_cli("projects", "retention", "default", "30", *d)
    assert kept.returncode == 0 and "30 days" in kept.stdout, kept.stderr
    assert "30" in run_cli("projects", "list", *d).stdout


def test_doctor_reports_a_healthy_and_a_broken_set_up(tmp_path: Path) -> None:
    healthy = run_cli(
        "doctor", "--data-dir", str(tmp_path / "d"), "--api-port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0"
    )
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "ok   store" in healthy.stdout and "ok   schema: version" in healthy.stdout
    # The tests' tiktoken cache (tests/conftest.py) holds OpenAI's tokenizer.
    assert f"ok   token counts: OpenAI's tokenizer (o200k_base) is in {TIKTOKEN_CACHE}" in healthy.stdout
    broken = run_cli("doctor", "--clickhouse", "clickhouse://u:pw@127.0.0.1:1/db")
    assert broken.returncode == 1
    assert "FAIL  store: cannot reach ClickHouse" in broken.stdout and "pw" not in broken.stdout


def test_doctor_sees_a_running_server(server: Server) -> None:
    result = run_cli("doctor", "--data-dir", str(server.data_dir))
    assert result.returncode == 0 and f"pid {server.process.pid} answers" in result.stdout, result.stdout


def test_ports_in_use_are_clear_start_up_errors_and_grpc_is_never_shared(server: Server, tmp_path: Path) -> None:
    """Another Tracehouse (another data directory) on a port the first one holds is refused with
    one clear line. The gRPC port was shared silently (SO_REUSEPORT): the second server started,
    and the kernel handed it part of the exporters' connections, into its own store."""
    host, grpc_port = server.otlp_grpc_address.rsplit(":", 1)
    ports = {
        "--otlp-grpc-port": (grpc_port, "OTLP/gRPC", "TRACEHOUSE_OTLP_GRPC_PORT"),
        "--otlp-http-port": (server.otlp_http_url.rsplit(":", 1)[1], "OTLP/HTTP", "TRACEHOUSE_OTLP_HTTP_PORT"),
        "--api-port": (server.api_url.rsplit(":", 1)[1], "API", "TRACEHOUSE_API_PORT"),
    }
    for flag, (port, what, env) in ports.items():
        free = ["--api-port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0"]
        other = tmp_path / f"other-{what.replace('/', '-')}"
        result = run_cli("serve", "--data-dir", str(other), *free, flag, port, timeout=60)
        assert result.returncode == 1, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        [line] = [x for x in result.stderr.splitlines() if x.startswith("tracehouse: error:")]
        assert f"port {port} ({what}) on {host} is in use by another process" in line, line
        assert flag in line and env in line
    # The first server is untouched.
    assert server.get("/api/public/health")[0] == 200
    # Nor does our gRPC server share a port it would get between the check and its bind.

    async def bind_late() -> None:  # grpc.aio wants an event loop of its own here
        create_grpc_server(None, None, 1024).add_insecure_port(f"{host}:{grpc_port}")  # type: ignore[arg-type]

    with pytest.raises(RuntimeError, match="Failed to bind"):
        asyncio.run(bind_late())
