"""Prometheus' HTTP API under ``/prometheus`` (data source URL ``http://host:3000/prometheus``),
answering a PromQL subset over virtual LLM metrics (see query_api/promql.py, storage/metrics.py)."""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from typing import Any

import orjson
import promql_parser as pp
from aiohttp import web

from query_api.access import project_for
from query_api.admin import STORE_KEY
from query_api.promql import PromQLError, Scalar, Vector, evaluate
from storage.metrics import METRICS
from storage.otlp_metrics import HISTOGRAM_KINDS, prometheus_type
from tracehouse.errors import TracehouseError

__all__ = ["prometheus_routes"]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
MAX_POINTS = 11_000


class _BadData(Exception):
    pass


def _ok(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps({"status": "success", "data": data}), content_type="application/json")


def _error(kind: str, message: str, status: int = 400) -> web.Response:
    return web.Response(
        body=orjson.dumps({"status": "error", "errorType": kind, "error": message}),
        status=status,
        content_type="application/json",
    )


def _time(raw: str | None, name: str, default: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
        raise _BadData(f'invalid parameter "{name}": "{raw[:40]}" is not a finite timestamp')
    try:
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _BadData(f'invalid parameter "{name}": cannot parse "{raw[:40]}" to a valid timestamp') from None


def _step(raw: str | None) -> float:
    if not raw:
        raise _BadData('invalid parameter "step": missing')
    match = _DURATION.match(raw)
    try:
        value = float(match.group(1)) * _UNITS[match.group(2)] if match else float(raw)
    except ValueError:
        raise _BadData(f'invalid parameter "step": cannot parse "{raw[:40]}" to a valid duration') from None
    if value <= 0 or not math.isfinite(value):
        raise _BadData("zero or negative query resolution step widths are not accepted")
    return value


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


async def _params(request: web.Request) -> dict[str, str]:
    params = dict(request.query)
    if request.method == "POST":
        params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return params


class PrometheusApi:
    def handler(self, fn: Any) -> Any:
        async def wrapped(request: web.Request) -> web.Response:
            try:
                store = request.app[STORE_KEY]
                project = await project_for(request, store)
                return await fn(request, store, project)
            except (_BadData, PromQLError) as exc:
                return _error("bad_data", str(exc))
            except TracehouseError as exc:
                return _error("unauthorized" if exc.http_status == 401 else "execution", exc.message, exc.http_status)

        return wrapped

    async def query(self, request: web.Request, store: Any, project: str) -> web.Response:
        p = await _params(request)
        if not p.get("query"):
            raise _BadData('invalid parameter "query": missing')
        at = _time(p.get("time"), "time", time.time())
        step = 60
        result = await evaluate(store, project, p["query"], [int(at)], step)
        if isinstance(result, Scalar):
            return _ok({"resultType": "scalar", "result": [at, _number(result.values[0])]})
        vector = [
            {"metric": s.labels, "value": [at, _number(s.values[0])]} for s in result.series if s.values[0] is not None
        ]
        return _ok({"resultType": "vector", "result": vector})

    async def query_range(self, request: web.Request, store: Any, project: str) -> web.Response:
        p = await _params(request)
        if not p.get("query"):
            raise _BadData('invalid parameter "query": missing')
        start = _time(p.get("start"), "start", math.nan)
        end = _time(p.get("end"), "end", math.nan)
        if math.isnan(start) or math.isnan(end):
            raise _BadData('invalid parameters "start" and "end": both are required')
        if end < start:
            raise _BadData('invalid parameter "end": end timestamp must not be before start time')
        step = _step(p.get("step"))
        if (end - start) / step > MAX_POINTS:
            raise _BadData("exceeded maximum resolution of 11,000 points per timeseries; try a larger step")
        step_s = max(1, int(step))
        steps = [int(start) + i * step_s for i in range(int((end - start) // step_s) + 1)]
        result = await evaluate(store, project, p["query"], steps, step_s)
        series = result.series if isinstance(result, Vector) else None
        if series is None:
            assert isinstance(result, Scalar)
            return _ok(
                {
                    "resultType": "matrix",
                    "result": [
                        {"metric": {}, "values": [[t, _number(v)] for t, v in zip(steps, result.values, strict=True)]}
                    ],
                }
            )
        matrix = []
        for s in series:
            values = [[t, _number(v)] for t, v in zip(steps, s.values, strict=True) if v is not None]
            if values:
                matrix.append({"metric": s.labels, "values": values})
        return _ok({"resultType": "matrix", "result": matrix})

    async def labels(self, request: web.Request, store: Any, project: str) -> web.Response:
        names = {"__name__", "project"}
        for metric in METRICS.values():
            names.update(metric.labels)
            if metric.extra_label:
                names.add(metric.extra_label)
        names.update(await store.otlp_metrics.label_names(project))
        return _ok(sorted(names))

    async def label_values(self, request: web.Request, store: Any, project: str) -> web.Response:
        name = request.match_info["name"]
        p = await _params(request)
        now = time.time()
        if name == "__name__":
            return _ok(sorted(set(METRICS) | await _otlp_names(store, project)))
        if name == "project":
            return _ok([project])
        if name == "type":
            return _ok(sorted(METRICS["tracehouse_llm_tokens_total"].values))
        if name == "le":
            return _ok(list(METRICS["tracehouse_llm_request_duration_seconds_bucket"].values))
        start = int(_time(p.get("start"), "start", now - 6 * 3600))
        end = int(_time(p.get("end"), "end", now)) + 1
        values = set(await store.metrics.label_values(project, name, start, end))
        values.update(await store.otlp_metrics.label_values(project, name, start * NS, end * NS))
        return _ok(sorted(values))

    async def series(self, request: web.Request, store: Any, project: str) -> web.Response:
        matches = request.query.getall("match[]", [])
        if request.method == "POST":
            matches += (await request.post()).getall("match[]", [])
        if not matches:
            raise _BadData("no match[] parameter provided")
        now = time.time()
        start = int(_time(request.query.get("start"), "start", now - 6 * 3600))
        end = int(_time(request.query.get("end"), "end", now))
        out: dict[tuple, dict[str, str]] = {}
        for match in matches:
            try:
                node = pp.parse(match)
            except Exception as exc:  # noqa: BLE001
                raise _BadData(f"invalid match[] {match[:80]!r}: {exc}") from None
            if not isinstance(node, pp.VectorSelector):
                raise _BadData("match[] must be a series selector")
            result = await evaluate(store, project, match, [end], max(1, end - start))
            for s in result.series if isinstance(result, Vector) else []:
                out[tuple(sorted(s.labels.items()))] = s.labels
        return _ok(list(out.values()))

    async def metadata(self, request: web.Request, store: Any, project: str) -> web.Response:
        doc = {m.name: [{"type": m.kind, "help": m.help, "unit": ""}] for m in METRICS.values()}
        for m in await store.otlp_metrics.catalog(project):
            doc[m["prom_name"]] = [
                {"type": prometheus_type(m["kind"], m["monotonic"]), "help": m["description"], "unit": m["unit"]}
            ]
        return _ok(doc)


NS = 1_000_000_000


async def _otlp_names(store: Any, project: str) -> set[str]:
    """The sample names of the OTLP metrics of a project (histograms as _bucket, _sum, _count)."""
    names: set[str] = set()
    for m in await store.otlp_metrics.catalog(project):
        if m["kind"] in HISTOGRAM_KINDS:
            names.update(m["prom_name"] + s for s in ("_count", "_sum"))
            if m["kind"] == "histogram":
                names.add(m["prom_name"] + "_bucket")
            if m["kind"] == "summary":
                names.add(m["prom_name"])
        else:
            names.add(m["prom_name"])
    return names


async def buildinfo(request: web.Request) -> web.Response:
    return _ok(
        {
            "version": "2.53.0",
            "revision": "tracehouse",
            "branch": "main",
            "buildUser": "tracehouse",
            "buildDate": "",
            "goVersion": "",
        }
    )


def prometheus_routes(prefix: str = "/prometheus") -> list[web.RouteDef]:
    api = PrometheusApi()
    h = api.handler
    routes = [web.get(prefix + "/api/v1/status/buildinfo", buildinfo)]
    for path, fn in (
        ("/api/v1/query", api.query),
        ("/api/v1/query_range", api.query_range),
        ("/api/v1/labels", api.labels),
        ("/api/v1/series", api.series),
    ):
        routes += [web.get(prefix + path, h(fn)), web.post(prefix + path, h(fn))]
    routes += [
        web.get(prefix + "/api/v1/label/{name}/values", h(api.label_values)),
        web.get(prefix + "/api/v1/metadata", h(api.metadata)),
    ]
    return routes
