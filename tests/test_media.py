"""Media uploads: the Langfuse SDKs' out-of-band flow (register, PUT, PATCH, read back) with the real
SDKs, for traces and dataset items, every bad upload refused with nothing stored, per-project
access, and files deleted with the traces and items that held them (GDPR deletes and retention);
with the files under the data directory and in an S3-compatible object store (moto's S3 server,
standing in for MinIO)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pyarrow as pa
import pytest

from storage.media import MediaFiles
from storage.media_s3 import S3MediaFiles
from storage.tables import TRACE_MEDIA
from tests.conftest import serving
from tests.langfuse_helpers import basic, make_key, run_sdk
from tracehouse.server import Running

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGO4o6GBFTEMLQkAe3tLAfuiUfAAAAAASUVORK5CYII="
)


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def media_files(live: Running) -> list[str]:
    """The media ids whose bytes are kept, wherever they are kept."""
    files = live.store.media.files
    if isinstance(files, S3MediaFiles):
        objects = files._client.list_objects(files.bucket, recursive=True)
        return sorted(o.object_name.rsplit("/", 1)[-1] for o in objects if o.object_name)
    assert isinstance(files, MediaFiles)
    root = files.root
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


@contextlib.contextmanager
def object_store() -> Iterator[str]:
    """An S3-compatible server on a free port (moto's), its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def serving_with_object_store(data_dir: Path) -> AsyncIterator[Running]:
    with object_store() as endpoint:
        async with serving(
            data_dir,
            media_s3_endpoint=endpoint,
            media_s3_bucket="th-media",
            media_s3_prefix="tracehouse",
            media_s3_region="us-east-1",
            media_s3_access_key="th-access",
            media_s3_secret_key="th-secret",
        ) as r:
            yield r


@pytest.fixture(params=["files", "s3"])
async def stored_live(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Running]:
    """``serve`` keeping media as files, then as objects of an S3-compatible store."""
    if request.param == "files":
        async with serving(tmp_path / "data") as r:
            yield r
    else:
        async with serving_with_object_store(tmp_path / "data") as r:
            assert isinstance(r.store.media.files, S3MediaFiles)
            yield r


@pytest.mark.parametrize("version", ["5", "4"])
async def test_sdk_uploads_media_and_reads_it_back(live: Running, version: str) -> None:
    pair = await make_key(live)
    out = await asyncio.to_thread(run_sdk, version, "media.py", live.api_url, pair)
    # The trace holds reference strings; the files are here, checked and whole.
    text = json.dumps({"input": out["input"], "output": out["output"]})
    assert "@@@langfuseMedia:type=image/png|id=" in text and "@@@langfuseMedia:type=application/pdf|id=" in text
    assert "base64," not in text  # the bytes left the trace
    resolved = json.dumps(out["resolved"])
    assert f"data:image/png;base64,{out['png']}" in resolved
    assert f"data:application/pdf;base64,{out['pdf']}" in resolved
    assert len(media_files(live)) == 2
    ids = await live.store.media.of_trace("default", out["trace_id"])
    assert len(ids) == 2
    # Each file was read back byte for byte (the SDK resolved it through GET /api/public/media).
    for media_id in ids:
        record = await live.store.media.get("default", media_id)
        assert record.uploaded_at is not None and record.content_type in ("image/png", "application/pdf")


async def test_sdk5_uploads_media_to_an_object_store(tmp_path: Path) -> None:
    """Tracehouse on an S3-compatible store: the SDK's flow is the same; the bytes are objects,
    none is a file here, and the UI reads them through Tracehouse with the project's access."""
    async with serving_with_object_store(tmp_path / "data") as live:
        pair = await make_key(live)
        out = await asyncio.to_thread(run_sdk, "5", "media.py", live.api_url, pair)
        resolved = json.dumps(out["resolved"])
        assert f"data:image/png;base64,{out['png']}" in resolved
        assert f"data:application/pdf;base64,{out['pdf']}" in resolved
        ids = await live.store.media.of_trace("default", out["trace_id"])
        assert media_files(live) == sorted(ids) and len(ids) == 2
        assert not (tmp_path / "data" / "media").exists()
        files = live.store.media.files
        assert isinstance(files, S3MediaFiles)
        names = [o.object_name for o in files._client.list_objects("th-media", recursive=True)]
        assert sorted(names) == sorted(f"tracehouse/default/{i}" for i in ids)  # prefix/project/id
        records = [await live.store.media.get("default", i) for i in ids]
        png_id = next(r.id for r in records if r.content_type == "image/png")
        status, body = await call("GET", f"{live.api_url}/api/v1/media/{png_id}", basic(pair))
        assert status == 200 and body == base64.b64decode(out["png"])
        await live.store.lifecycle.delete("default", "trace", out["trace_id"])
        assert media_files(live) == []


async def test_an_unreachable_object_store_stops_the_start_saying_so(tmp_path: Path) -> None:
    from tracehouse.errors import StorageUnavailable

    with pytest.raises(StorageUnavailable, match="media object store"):
        async with serving(
            tmp_path / "data", media_s3_endpoint="http://127.0.0.1:9", media_s3_access_key="k", media_s3_secret_key="s"
        ):
            pass


@pytest.mark.parametrize("where", ["files", "s3"])
async def test_sdk5_dataset_item_media(tmp_path: Path, where: str) -> None:
    """langfuse 5.x uploads a dataset item's files for the item before it exists; the item holds
    reference strings that resolve; deleting the item deletes its files."""
    opened = serving(tmp_path / "data") if where == "files" else serving_with_object_store(tmp_path / "data")
    async with opened as live:
        pair = await make_key(live)
        out = await asyncio.to_thread(run_sdk, "5", "v5_dataset_media.py", live.api_url, pair)
        text = json.dumps({"input": out["input"], "expected": out["expected"]})
        assert "@@@langfuseMedia:type=image/png|id=" in text and "@@@langfuseMedia:type=application/pdf|id=" in text
        assert "base64," not in text
        resolved = json.dumps(out["resolved"])
        assert f"data:image/png;base64,{out['png']}" in resolved
        assert f"data:application/pdf;base64,{out['pdf']}" in resolved
        held = await live.store.media.of_item("default", out["item_id"])
        assert len(held) == 2 and media_files(live) == sorted(held)
        # The item's media is not swept as held by no trace.
        assert await live.store.media.sweep() == 0 and media_files(live) == sorted(held)
        auth = basic(pair)
        url = live.api_url + "/api/public/media"
        bad = {"datasetId": out["dataset_id"], "datasetItemId": "x", "field": "output", "contentType": "image/png",
               "contentLength": len(PNG), "sha256Hash": sha(PNG)}  # fmt: skip
        status, doc = await call("POST", url, auth, bad)
        assert status == 400 and "expectedOutput" in doc["message"]  # an item has no output field
        status, doc = await call("POST", url, auth, {**bad, "field": "input", "datasetId": "no-such-dataset"})
        assert status == 404
        status, doc = await call("POST", url, auth, {**bad, "field": "input", "traceId": "t-1"})
        assert status == 400  # a trace or an item, not both
        status, _ = await call("DELETE", f"{live.api_url}/api/public/dataset-items/{out['item_id']}", auth)
        assert status == 200
        assert media_files(live) == [] and await live.store.media.of_item("default", out["item_id"]) == []


async def call(
    method: str, url: str, headers: dict[str, str] | None = None, body: Any = None, data: bytes | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, url, headers=headers or {}, json=body, data=data) as r,
    ):
        raw = await r.read()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw


async def test_bad_uploads_access_and_deletes(stored_live: Running) -> None:
    live = stored_live
    pair = await make_key(live)
    auth = basic(pair)
    other = await live.store.projects.create_project("other")
    other_auth = basic(await make_key(live, other.id))
    url = live.api_url + "/api/public/media"
    good = {
        "traceId": "t-1",
        "observationId": "o-1",
        "field": "input",
        "contentType": "image/png",
        "contentLength": len(PNG),
        "sha256Hash": sha(PNG),
    }
    # Registration: clear errors for every bad field, nothing stored.
    for change, needle in [
        ({"contentType": "application/x-msdownload"}, "not accepted"),
        ({"contentLength": 10**12}, "contentLength"),
        ({"contentLength": 0}, "contentLength"),
        ({"contentLength": "12"}, "contentLength"),
        ({"sha256Hash": "not base64!"}, "sha256Hash"),
        ({"sha256Hash": base64.b64encode(b"short").decode()}, "sha256Hash"),
        ({"field": "everything"}, "field"),
        ({"traceId": None}, "traceId"),
    ]:
        status, doc = await call("POST", url, auth, {**good, **change})
        assert status == 400 and needle in doc["message"], (change, doc)
    for raw in (b"", b"[]", b"{not json", b'"x"'):
        status, doc = await call("POST", url, {**auth, "Content-Type": "application/json"}, data=raw)
        assert status == 400 and doc["error"] == "InvalidRequestError"
    assert (await call("POST", url, {}, good))[0] == 401
    assert media_files(live) == [] and not await live.store.backend.query("SELECT * FROM media")

    status, doc = await call("POST", url, auth, good)
    assert status == 200 and doc["uploadUrl"].startswith(live.api_url), doc
    media_id, upload = doc["mediaId"], doc["uploadUrl"]
    assert media_id == sha(PNG).replace("+", "-").replace("/", "_")[:22]  # the id the SDKs compute
    png = {"Content-Type": "image/png"}
    # Uploads that are not what was registered: refused, nothing kept.
    for headers, data, expected in [
        (png, PNG[:-1] + b"x", 400),  # wrong hash
        (png, PNG + b"x", 400),  # longer
        (png, PNG[:10], 400),  # shorter
        ({"Content-Type": "image/gif"}, PNG, 400),  # another type
        (png, PNG, 403),  # an altered signature (below)
    ]:
        target = upload if expected != 403 else upload.replace("sig=", "sig=0")
        status, doc = await call("PUT", target, headers, data=data)
        assert status == expected, (headers, status, doc)
    expired = upload.split("expires=")[0] + "expires=1&" + upload.split("&", 2)[2]
    assert (await call("PUT", expired, png, data=PNG))[0] == 403
    assert media_files(live) == []
    assert (await call("GET", f"{url}/{media_id}", auth))[0] == 404  # not uploaded yet

    assert (await call("PUT", upload, png, data=PNG))[0] == 200
    patch = {"uploadedAt": "2026-12-01T10:00:00Z", "uploadHttpStatus": 200, "uploadHttpError": None}
    assert (await call("PATCH", f"{url}/{media_id}", auth, patch))[0] == 204
    assert (await call("PATCH", f"{url}/{media_id}", auth, {"uploadHttpStatus": "x"}))[0] == 400
    status, doc = await call("GET", f"{url}/{media_id}", auth)
    assert status == 200 and (doc["contentType"], doc["contentLength"]) == ("image/png", len(PNG))
    status, body = await call("GET", doc["url"])
    assert status == 200 and body == PNG
    status, body = await call("GET", f"{live.api_url}/api/v1/media/{media_id}", auth)
    assert status == 200 and body == PNG
    # Another project's key learns nothing of it, by any path; a tampered download link fails.
    assert (await call("GET", f"{url}/{media_id}", other_auth))[0] == 404
    assert (await call("PATCH", f"{url}/{media_id}", other_auth, patch))[0] == 404
    assert (await call("GET", f"{live.api_url}/api/v1/media/{media_id}", other_auth))[0] == 404
    assert (await call("GET", doc["url"].replace("project=default", f"project={other.id}")))[0] == 403
    assert (await call("GET", f"{url}/../../etc/passwd", auth))[0] in (400, 404)

    # The same content in a second trace is stored once; deleting one trace keeps the file.
    await live.store.writer.write(_spans("t-1", "t-2"))
    status, again = await call("POST", url, auth, {**good, "traceId": "t-2"})
    assert (status, again["uploadUrl"], again["mediaId"]) == (200, None, media_id)
    await live.store.lifecycle.delete("default", "trace", "t-1")
    assert media_files(live) == [media_id]
    await live.store.lifecycle.delete("default", "trace", "t-2")
    assert media_files(live) == []
    assert (await call("GET", f"{url}/{media_id}", auth))[0] == 404


async def test_retention_removes_media_files(live: Running) -> None:
    pair = await make_key(live)
    auth = basic(pair)
    _, doc = await call(
        "POST",
        live.api_url + "/api/public/media",
        auth,
        {
            "traceId": "old",
            "field": "output",
            "contentType": "image/png",
            "contentLength": len(PNG),
            "sha256Hash": sha(PNG),
        },
    )
    assert (await call("PUT", doc["uploadUrl"], {"Content-Type": "image/png"}, data=PNG))[0] == 200
    assert len(media_files(live)) == 1
    # Age the link ten days (its version column cannot be updated in place: replace the row).
    rows = await live.store.backend.query("SELECT * FROM trace_media WHERE trace_id = 'old'")
    await live.store.backend.execute("DELETE FROM trace_media WHERE trace_id = 'old'")
    old = [{**r, "created_at": r["created_at"] - dt.timedelta(days=10)} for r in rows]
    await live.store.backend.insert("trace_media", pa.Table.from_pylist(old, schema=TRACE_MEDIA.arrow_schema()))
    await live.store.lifecycle.set_retention("default", 3)
    assert media_files(live) == []


def _spans(*trace_ids: str) -> Any:
    from tests.helpers import span, span_table

    return span_table([span(t, t[-1] * 16, name=f"trace {t}") for t in trace_ids])


@pytest.mark.slow
def test_trace_view_renders_media(tmp_path: Any) -> None:
    """In the browser: the images of an SDK upload and of an OTel GenAI span (a blob part) show in
    the chat; the PDF is a link to the file, read with the viewer's session."""
    import subprocess
    import sys

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from tests.conftest import start_server
    from tests.langfuse_helpers import ROOT, SDK_DIRS
    from tests.otel import provider
    from tests.test_ui import ARTIFACTS, browser_page
    from tests.test_ui_first_run import api, signed_up

    srv = start_server(tmp_path / "data")
    errors: list[str] = []
    try:
        with browser_page(errors) as page:
            signed_up(page, srv.api_url)
            status, pair = api(page, "POST", "/api/v1/settings/keys", {"project": "default"})
            assert status == 201
            run = subprocess.run(
                [sys.executable, "-S", str(ROOT / "tests/langfuse_clients/media.py"), srv.api_url,
                 pair["public_key"], pair["secret_key"]],
                env={"PYTHONPATH": str(SDK_DIRS["5"]), "PATH": "/usr/bin:/bin"},
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert run.returncode == 0, run.stderr[-2000:]
            sdk_trace = json.loads(run.stdout.strip().splitlines()[-1])["trace_id"]
            token = base64.b64encode(f"{pair['public_key']}:{pair['secret_key']}".encode()).decode()
            exporter = OTLPSpanExporter(
                endpoint=srv.otlp_http_url + "/v1/traces", headers={"Authorization": f"Basic {token}"}
            )
            tp = provider(exporter, service="vision-app")
            with tp.get_tracer("media").start_as_current_span("chat gpt-4o") as chat:
                chat.set_attribute("gen_ai.operation.name", "chat")
                chat.set_attribute("gen_ai.request.model", "gpt-4o")
                message = {
                    "role": "user",
                    "parts": [
                        {"type": "text", "content": "Describe it"},
                        {"type": "blob", "modality": "image", "mime_type": "image/png",
                         "content": base64.b64encode(PNG).decode()},
                    ],
                }  # fmt: skip
                chat.set_attribute("gen_ai.input.messages", json.dumps([message]))
                otel_trace = format(chat.get_span_context().trace_id, "032x")
            tp.force_flush()
            tp.shutdown()

            page.goto(f"{srv.api_url}/project/default/traces/{sdk_trace}")
            page.locator(".row", has_text="vision").click()
            image = page.locator(".panel img.media-image").first
            image.wait_for()
            page.wait_for_function("document.querySelector('.panel img.media-image').naturalWidth === 8")
            pdf = page.locator(".panel a.media.file", has_text="application/pdf")
            response = page.request.get(srv.api_url + pdf.get_attribute("href"))  # with the viewer's session
            assert response.ok and response.body().startswith(b"%PDF-1.4")
            assert response.headers["content-type"] == "application/pdf"
            # The output's JSON names each file by its type, not by its reference string (the
            # attribute table below keeps what was sent).
            output = page.locator(".panel section.io", has_text="[application/pdf]").inner_text()
            assert "@@@langfuseMedia" not in output and "a red square" in output, output
            page.screenshot(path=str(ARTIFACTS / "media-sdk.png"))

            page.goto(f"{srv.api_url}/project/default/traces/{otel_trace}")
            page.locator(".row", has_text="chat gpt-4o").click()
            page.wait_for_function("document.querySelector('.panel img.media-image')?.naturalWidth === 8")
            page.screenshot(path=str(ARTIFACTS / "media-otel.png"))

            # A dataset item's files (langfuse 5.x uploads them for the item) on the dataset's page.
            run = subprocess.run(
                [sys.executable, "-S", str(ROOT / "tests/langfuse_clients/v5_dataset_media.py"), srv.api_url,
                 pair["public_key"], pair["secret_key"]],
                env={"PYTHONPATH": str(SDK_DIRS["5"]), "PATH": "/usr/bin:/bin"},
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert run.returncode == 0, run.stderr[-2000:]
            page.goto(f"{srv.api_url}/project/default/datasets/vision-cases")
            page.wait_for_function("document.querySelector('td.io-cell img.media-image')?.naturalWidth === 8")
            assert page.locator("td.io-cell a.media.file", has_text="application/pdf").count() == 1
            assert "@@@langfuseMedia" not in page.locator("table").inner_text()
            page.screenshot(path=str(ARTIFACTS / "media-dataset-item.png"))
    finally:
        srv.stop()
    assert errors == []
