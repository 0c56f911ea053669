"""The first run and teams in a real browser: sign-up, the wizard (organization, project, key), the
snippets of the key dialog run as pasted, data that shows in its own project only, switchers,
invitations, roles, password changes and resets, and the "no access" page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Server, start_server
from tests.langfuse_helpers import ROOT, SDK_DIRS
from tests.test_ui import ARTIFACTS, api, asked, browser_page

pytestmark = pytest.mark.slow

PASSWORD = "a very good password"
DOCS = ARTIFACTS / "first-run"  # docs/images holds copies for the README

# A program that uses nothing but the OpenTelemetry SDK and the environment the dialog shows.
OTEL_PROGRAM = """
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
with provider.get_tracer("first-run").start_as_current_span("otel-hello") as span:
    span.set_attribute("user.id", "otel-user")
    span.set_attribute("session.id", "otel-session")
provider.shutdown()
"""


def env_of(snippet: str) -> dict[str, str]:
    """KEY=value lines, as a shell would read them."""
    return dict(line.split("=", 1) for line in snippet.splitlines() if "=" in line)


def snippet_text(page: Page, label: str) -> str:
    return (
        page.locator(".snippet", has=page.locator("strong", has_text=re.compile(f"^{re.escape(label)}$")))
        .locator("pre")
        .inner_text()
    )


def run_program(program: str, env: dict[str, str]) -> None:
    """Run a Python program with ``env`` added to this one's environment: it must succeed, silently."""
    run = subprocess.run(
        [sys.executable, "-c", program], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and not run.stderr, run.stderr[-2000:]


def until_listed(api_url: str, headers: dict[str, str] | None = None, trace_id: str | None = None) -> None:
    """Wait until the project's trace list has a trace (``trace_id``, or any): acknowledged is stored
    at once, and listed once its batch is inserted (about half a second later), so a page loaded at
    once may lack it."""
    for _ in range(600):
        items = httpx.get(api_url + "/api/v1/traces", headers=headers or {}).json()["items"]
        if any(trace_id in (None, item["trace_id"]) for item in items):
            return
        time.sleep(0.1)
    raise AssertionError("no trace listed within a minute")


def sign_up(page: Page, url: str) -> None:
    page.goto(url + "/")
    page.get_by_role("heading", name="Create the admin account").wait_for()
    page.get_by_label("Name").fill("Ada")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password (8+ characters)").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()


def signed_up(page: Page, url: str) -> None:
    """The admin account made and the first-run wizard skipped: a project's pages, empty."""
    sign_up(page, url)
    page.get_by_role("button", name="Skip for now").click()


def sign_in(page: Page, url: str, email: str, password: str, ok: bool = True) -> None:
    page.goto(url + "/")
    page.get_by_role("heading", name="Sign in").wait_for()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if ok:
        page.get_by_role("button", name="Sign out").wait_for()


def sign_out(page: Page) -> None:
    [session] = [c for c in page.context.cookies() if c["name"] == "th_session"]
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    # The token ended, not only the cookie: put it back and the server still says no one.
    page.context.add_cookies([session])
    status, me = api(page, "GET", "/api/v1/auth/me")
    assert status == 200 and {k: v for k, v in me.items() if k != "otlp"} == {
        "user": None,
        "setup_required": False,
        "open": False,
        "sso": None,
    }
    page.context.clear_cookies(name="th_session")


@pytest.fixture
def server(tmp_path: Path):
    srv = start_server(tmp_path / "data")
    try:
        yield srv
    finally:
        srv.stop()


def test_first_run_wizard_snippets_and_project_isolation(server: Server, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    DOCS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with browser_page(errors) as page:
        sign_up(page, server.api_url)
        # The wizard: organization, project, key.
        page.get_by_role("heading", name="Set up Tracehouse").wait_for()
        page.get_by_label("Organization name").fill("dify")
        page.get_by_role("button", name="Create").click()
        page.get_by_role("heading", name="Organization: dify").wait_for()
        page.get_by_label("Project name").fill("dify-llm")
        page.screenshot(path=str(DOCS / "first-run-1-project.png"))
        page.get_by_role("button", name="Create", exact=True).click()
        page.get_by_role("heading", name="Project: dify-llm").wait_for()
        page.get_by_role("button", name="Create key pair").click()
        page.get_by_role("dialog", name="New API key").wait_for()
        page.get_by_text("Waiting for the first trace").wait_for()
        assert "Invalid Date" not in page.locator("main").inner_text()
        page.screenshot(path=str(DOCS / "first-run-2-key.png"), full_page=True)

        dify = env_of(snippet_text(page, "Dify (Settings → Monitoring → Langfuse)").replace(": ", "="))
        langfuse_env = env_of(snippet_text(page, "Langfuse SDK (environment)"))
        langfuse_code = snippet_text(page, "Langfuse SDK (Python)")
        otel_env = env_of(snippet_text(page, "OpenTelemetry exporter (environment)"))
        grafana = dict(
            line.split(": ", 1)
            for line in snippet_text(page, "Grafana (Tempo and Prometheus data sources)").splitlines()
        )
        assert dify["Host"] == server.api_url and langfuse_env["LANGFUSE_HOST"] == server.api_url
        # This server's gRPC port, which the test asked to be any free one (the note said 4317).
        [grpc_port] = re.findall(
            r"gRPC exporters use port (\d+) with the same Authorization header",
            page.locator(".key-dialog").inner_text(),
        )
        assert grpc_port == server.otlp_grpc_address.rsplit(":", 1)[1]

        # The Langfuse SDK snippet, pasted as it is, with SDK 5 and 4.
        for version in ("5", "4"):
            run = subprocess.run(
                [sys.executable, "-S", "-c", langfuse_code],
                env={**langfuse_env, "PYTHONPATH": str(SDK_DIRS[version]), "PATH": "/usr/bin:/bin"},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode == 0, run.stderr[-2000:]
        # The dialog notices the first trace and links to it.
        page.get_by_role("link", name="hello-tracehouse").first.click()
        page.get_by_role("heading", name="hello-tracehouse", exact=True).wait_for()
        assert "/project/" in page.url and "/traces/" in page.url

        # The OTel environment, with the stock exporter; and what Dify does with the three values.
        run_program(OTEL_PROGRAM, otel_env)
        # The gRPC exporter as the dialog's note says: the same header, the port it names.
        run_program(
            OTEL_PROGRAM.replace("proto.http", "proto.grpc").replace("otel-hello", "otel-grpc"),
            {**otel_env, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{grpc_port}"},
        )
        run = subprocess.run(
            [
                sys.executable,
                "-S",
                str(ROOT / "tests" / "langfuse_clients" / "v2_dify.py"),
                dify["Host"],
                dify["Public Key"],
                dify["Secret Key"],
            ],
            env={"PYTHONPATH": str(SDK_DIRS["2"]), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr[-2000:]

        # Grafana's data sources, as its forms are filled from the snippet: Save & test, then a
        # TraceQL metrics query (Explore → Traces asks these) that counts the spans sent above.
        auth = (grafana["User"], grafana["Password"])
        assert httpx.get(grafana["Tempo URL"] + "/api/echo", auth=auth).status_code == 200
        assert (
            httpx.get(grafana["Prometheus URL"] + "/api/v1/query", params={"query": "1+1"}, auth=auth).status_code
            == 200
        )
        spans = httpx.get(
            grafana["Tempo URL"] + "/api/metrics/query",
            params={"q": "{ } | count_over_time() by (resource.service.name)", "since": "1h"},
            auth=auth,
        ).json()
        assert sum(s["value"] for s in spans["series"]) >= 3, spans
        wrong = (grafana["User"], "wrong")
        assert (
            httpx.get(grafana["Tempo URL"] + "/api/metrics/query", params={"q": "{} | rate()"}, auth=wrong).status_code
            == 401
        )

        # Everything shows in dify-llm: traces, sessions, users, dashboard.
        page.get_by_role("link", name="Traces", exact=True).click()
        for name in ("hello-tracehouse", "otel-hello", "otel-grpc", "message"):
            page.get_by_role("link", name=name, exact=True).first.wait_for()
        page.screenshot(path=str(DOCS / "first-run-3-traces.png"))
        project_url = page.url.split("/traces")[0]
        assert re.search(r"/project/[^/]+$", project_url)
        page.get_by_role("link", name="Sessions").click()
        # (The list just left links both sessions too: the otel ones twice, one per trace.)
        page.get_by_role("heading", name="Sessions").wait_for()
        page.get_by_role("link", name="conversation-42").wait_for()
        page.get_by_role("link", name="otel-session").wait_for()
        page.get_by_role("link", name="Users").click()
        page.get_by_role("heading", name="Users").wait_for()
        page.get_by_role("link", name="end-user-7").wait_for()
        page.get_by_role("link", name="Dashboard").click()
        expect(page.locator("[data-stat=Traces]")).to_have_text("5")

        # The switchers: the default organization's project holds none of it.
        page.get_by_label("Organization").select_option(label="Default")
        page.wait_for_url("**/project/default/traces")
        page.get_by_text("No traces in this range yet.").wait_for()
        page.get_by_role("link", name="Sessions").click()
        page.get_by_text("No sessions yet").wait_for()
        page.get_by_role("link", name="Users").click()
        page.get_by_text("No users yet").wait_for()
        page.get_by_role("link", name="Dashboard").click()
        expect(page.locator("[data-stat=Traces]")).to_have_text("0")
        # The old short paths and "/" open the last project used.
        page.get_by_label("Organization").select_option(label="dify")
        page.get_by_role("link", name="otel-hello").wait_for()
        page.goto(server.api_url + "/sessions")
        page.wait_for_url(project_url + "/sessions")
        page.goto(server.api_url + "/")
        page.wait_for_url(project_url + "/traces")
        page.get_by_role("link", name="otel-hello").wait_for()
    assert errors == []


def test_open_mode_hint_is_this_servers_endpoint(server: Server) -> None:
    """Open mode (a fresh local server, no account yet): the empty list's hint is the endpoint of
    this server's receiver, which an exporter takes as it is (it named 4318 whatever the port)."""
    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto(server.api_url + "/")
        page.get_by_role("button", name="Continue without an account").click()
        env = env_of(page.locator(".first-trace pre").inner_text())
        assert env == {"OTEL_EXPORTER_OTLP_ENDPOINT": server.otlp_http_url}
        run_program(OTEL_PROGRAM, env)
        until_listed(server.api_url)
        page.reload()
        page.get_by_role("link", name="otel-hello").click()
        page.get_by_role("heading", name="otel-hello", exact=True).wait_for()
    assert errors == []


def test_invitations_roles_passwords_and_no_access(server: Server) -> None:
    errors: list[str] = []
    with browser_page(errors) as page:
        sign_up(page, server.api_url)
        page.get_by_role("heading", name="Set up Tracehouse").wait_for()
        status, org = api(page, "POST", "/api/v1/organizations", {"name": "acme"})
        assert status == 201, org
        app = api(page, "POST", f"/api/v1/organizations/{org['id']}/projects", {"name": "app"})[1]
        secret = api(page, "POST", f"/api/v1/organizations/{org['id']}/projects", {"name": "secret-app"})[1]
        page.goto(server.api_url + f"/organization/{org['id']}/settings")
        # The server's admin sees its backups (here none: no TRACEHOUSE_BACKUP_DIR), and how to have them.
        page.get_by_role("heading", name="Backups of this server").wait_for()
        expect(page.locator("#server-backups + p")).to_contain_text("Set TRACEHOUSE_BACKUP_DIR to a directory")
        assert api(page, "GET", "/api/v1/server/backups") == (200, {"scheduled": False})
        # ... and its disk: what is free, and the reserve below which new data would be refused.
        page.get_by_role("heading", name="Disk of this server").wait_for()
        expect(page.locator("#server-disk + p + p")).to_have_text(
            "New data is refused while less than 512 MB is free, so that the store keeps room for its own work. "
            "TRACEHOUSE_MIN_FREE_DISK_BYTES sets it."
        )
        status, disk = api(page, "GET", "/api/v1/server/disk")
        assert status == 200 and disk["low"] is False and disk["reserve"] == 512 * 2**20, disk

        # Two invitations: a VIEWER of the organization, and someone for one project only.
        def invite(email: str, role: str, project: str = "", project_role: str = "") -> str:
            link = page.locator(".snippet", has_text="Invitation link").locator("pre")
            before = link.inner_text() if link.count() else ""
            page.get_by_label("Invite email").fill(email)
            page.get_by_label("Invite role").select_option(role)
            page.get_by_label("Invite to one project").select_option(label=project or "(whole organization)")
            if project_role:
                page.get_by_label("Invite project role").select_option(project_role)
            page.get_by_role("button", name="Create invitation link").click()
            expect(link).to_contain_text("/invite/")
            expect(link).not_to_have_text(before)
            return link.inner_text()

        viewer_link = invite("viewer@example.com", "VIEWER")
        solo_link = invite("solo@example.com", "NONE", "app", "MEMBER")
        page.get_by_role("cell", name="solo@example.com").wait_for()  # pending
        assert "Invalid Date" not in page.locator("section.settings").inner_text()
        assert "/invite/" not in page.locator("table").last.inner_text()  # the link is never listed
        # A third, withdrawn: asked first (declined, it stays pending), then gone from the list.
        invite("later@example.com", "MEMBER")
        later = page.locator("tr", has=page.get_by_role("cell", name="later@example.com"))
        withdraw = later.get_by_role("button", name="Withdraw").click
        question = asked(page, withdraw, accept=False)
        assert question == "Withdraw the invitation of later@example.com? Its link stops working."
        expect(later).to_have_count(1)
        asked(page, withdraw, accept=True)
        expect(later).to_have_count(0)
        sign_out(page)

        # The viewer joins, sees the organization's projects but no settings, and the API refuses.
        page.goto(viewer_link)
        page.get_by_role("heading", name="Join acme").wait_for()
        page.get_by_label("Your name").fill("Vic")
        page.get_by_label("Choose a password (8+ characters)").fill(PASSWORD)
        page.get_by_role("button", name="Join").click()
        page.wait_for_url(re.compile(r".*/project/[^/]+/traces"))
        nav = page.get_by_role("navigation", name="Pages")
        nav.get_by_role("link", name="Traces").wait_for()
        assert nav.get_by_role("link", name="Settings").count() == 0
        assert page.locator("header").get_by_role("link", name="Organization").count() == 0
        expect(page.get_by_label("Project").locator("option")).to_have_count(2)
        assert api(page, "GET", "/api/v1/server/backups")[0] == 403  # the server's, not the organization's
        assert api(page, "GET", "/api/v1/server/disk") == (200, {"watched": True, "low": False})  # no figures
        assert sorted(page.get_by_label("Project").locator("option").all_inner_texts()) == ["app", "secret-app"]
        assert api(page, "POST", "/api/v1/settings/keys", {"project": app["id"]})[0] == 403
        assert api(page, "POST", f"/api/v1/organizations/{org['id']}/invitations", {"email": "x@y.z"})[0] == 403
        page.goto(server.api_url + f"/project/{app['id']}/settings")
        page.get_by_text("reads data but changes no settings").wait_for()
        # Evaluations without a model connection: who adds one, not a Settings path they cannot use.
        page.goto(server.api_url + f"/project/{app['id']}/evaluations")
        page.get_by_text("which an admin of this project adds in Settings").wait_for()
        expect(page.get_by_text("add one in Settings")).to_have_count(0)
        page.goto(server.api_url + "/project/default/traces")  # not the viewer's organization
        page.get_by_role("heading", name="No access").wait_for()
        assert api(page, "GET", "/api/v1/traces?project=default")[0] == 403
        # A link works once.
        page.goto(viewer_link)
        page.get_by_role("heading", name="This link does not work").wait_for()
        # A new password ends the other sessions, and the new one signs in.
        page.goto(server.api_url + "/account")
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password").fill("another good password")
        page.get_by_role("button", name="Change password").click()
        page.get_by_text("Password changed.").wait_for()
        sign_out(page)
        sign_in(page, server.api_url, "viewer@example.com", PASSWORD, ok=False)
        page.get_by_text("wrong email or password").wait_for()
        # A forgotten password: the page says who makes a reset link, and the instance admin's command.
        page.get_by_text("Forgot your password?").click()
        expect(page.locator(".forgot pre")).to_have_text("tracehouse users reset-password <email>")

        # One project only: organization role NONE, project role MEMBER.
        page.goto(solo_link)
        page.get_by_role("heading", name="Join acme").wait_for()
        page.get_by_label("Choose a password (8+ characters)").fill(PASSWORD)
        page.get_by_role("button", name="Join").click()
        page.wait_for_url(f"**/project/{app['id']}/traces")
        expect(page.get_by_label("Project").locator("option")).to_have_text(["app"])
        page.goto(server.api_url + f"/project/{secret['id']}/traces")
        page.get_by_role("heading", name="No access").wait_for()
        assert api(page, "GET", f"/api/v1/traces?project={secret['id']}")[0] == 403
        sign_out(page)

        # The admin resets the viewer's password: a one-time link that sets a new one.
        sign_in(page, server.api_url, "ada@example.com", PASSWORD)
        page.goto(server.api_url + f"/organization/{org['id']}/settings")
        page.get_by_role("row", name=re.compile("viewer@example.com")).get_by_role(
            "button", name="Reset password"
        ).click()
        reset_link = page.locator(".snippet", has_text="Password reset link").locator("pre").inner_text()
        sign_out(page)
        page.goto(reset_link)
        page.get_by_role("heading", name="Set a new password").wait_for()
        page.get_by_label("New password (8+ characters)").fill("reset good password")
        page.get_by_role("button", name="Set password").click()
        page.wait_for_url(re.compile(r".*/project/[^/]+/traces"))
        sign_out(page)
        sign_in(page, server.api_url, "viewer@example.com", "reset good password")
        page.wait_for_url(re.compile(r".*/project/[^/]+/traces"))
    # Refusals the test asked for show in the console as failed loads; nothing else may.
    assert [e for e in errors if "Failed to load resource" not in e] == [], json.dumps(errors)
