"""Skill serving benchmark: what an agent fetching its skill costs, as the langfuse 5.2 SDK fetches
it (``GET /api/public/skills/{name}``, the production label, with ``includeContent`` or then the
texts by hash from ``files/content``), and what publishing a version costs.

Starts ``tracehouse serve`` on a fresh data directory with one key, publishes ``--versions``
versions of a skill of ``--files`` files (``--kb`` KB each, one of them changed per version), labels
the newest production, then from N concurrent clients fetches it ``--requests`` times each way
and reports the latency of each, the answers per second, and the publish latency.

    python -m bench.skills --concurrency 4 --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from urllib.parse import quote

import aiohttp

from bench.langfuse import keyed_server


def _ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {"p50": round(statistics.median(values), 2), "p95": round(values[int(len(values) * 0.95) - 1], 2)}


def _files(version: int, files: int, kb: int) -> list[dict[str, str]]:
    header = f"---\nname: refund-policy\ndescription: Decide refunds (v{version}).\n---\n"
    body = [{"path": "SKILL.md", "content": header + "# Refunds\n" + "Check the order. " * 60}]
    for i in range(files - 1):
        text = f"Reference {i}, revision {version if i == 0 else 0}.\n" + "Policy line. " * (kb * 80)
        body.append({"path": f"references/ref-{i}.md", "content": text})
    return body


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    async with keyed_server() as (process, api_url, auth, _):
        base = api_url + "/api/public/skills"
        try:
            async with aiohttp.ClientSession(headers={"Authorization": auth}) as session:
                publish: list[float] = []
                for v in range(1, args.versions + 1):
                    t = time.perf_counter()
                    async with session.post(base, json={"files": _files(v, args.files, args.kb)}) as r:
                        assert r.status == 201, await r.text()
                    publish.append((time.perf_counter() - t) * 1000)
                label = {"labels": ["production"]}
                async with session.patch(f"{base}/refund-policy/versions/{args.versions}", json=label) as r:
                    assert r.status == 200, await r.text()
                async with session.get(f"{base}/refund-policy") as r:
                    manifest = await r.json()
                hashes = quote(",".join(f["sha256Hash"] for f in manifest["files"]), safe="")
                reads: dict[str, Callable[[], str]] = {
                    "manifest": lambda: f"{base}/refund-policy",
                    "with_content": lambda: f"{base}/refund-policy?includeContent=true",
                    "contents_by_hash": lambda: f"{base}/files/content?sha256Hashes={hashes}",
                }

                async def run(url: str) -> tuple[list[float], float]:
                    latencies: list[float] = []

                    async def client() -> None:
                        for _ in range(args.requests // args.concurrency):
                            t = time.perf_counter()
                            async with session.get(url) as r:
                                await r.read()
                                assert r.status == 200
                            latencies.append((time.perf_counter() - t) * 1000)

                    started = time.perf_counter()
                    await asyncio.gather(*(client() for _ in range(args.concurrency)))
                    return latencies, time.perf_counter() - started

                out: dict[str, object] = {
                    "versions": args.versions,
                    "files": args.files,
                    "bytes_per_version": sum(len(f["content"].encode()) for f in _files(1, args.files, args.kb)),
                    "concurrency": args.concurrency,
                    "requests_each": args.requests,
                    "publish_ms": _ms(publish),
                }
                for name, url in reads.items():
                    latencies, seconds = await run(url())
                    out[f"{name}_ms"] = _ms(latencies)
                    out[f"{name}_per_s"] = round(len(latencies) / seconds)
        finally:
            process.terminate()
            process.wait(30)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--kb", type=int, default=4)
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
