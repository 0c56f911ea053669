"""Prompt serving benchmark: what an application polling its prompt costs, as the Langfuse SDKs
poll (``GET /api/public/v2/prompts/{name}``, the production label, every 60 s per process).

Starts ``tracehouse serve`` on a fresh data directory with one key and a prompt of 20 versions
(the newest labelled production, composed from another prompt), then from N concurrent clients
requests it ``--requests`` times in full and ``--requests`` times with ``If-None-Match`` (the
304 answer an unchanged prompt gets), and reports the latency of each and the requests per
second one server answers.

    python -m bench.prompts --concurrency 4 --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import aiohttp

from bench.langfuse import keyed_server


def _ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {"p50": round(statistics.median(values), 2), "p95": round(values[int(len(values) * 0.95) - 1], 2)}


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    async with keyed_server() as (process, api_url, auth, _):
        base = api_url + "/api/public/v2/prompts"
        headers = {"Authorization": auth}
        try:
            async with aiohttp.ClientSession(headers=headers) as session:
                part = {"name": "parts/tone", "prompt": "Answer kindly.", "labels": ["production"]}
                async with session.post(base, json=part) as r:
                    assert r.status == 201, await r.text()
                for v in range(20):
                    body = {"name": "support/answer", "prompt": f"v{v}: {{{{question}}}} "
                            "@@@langfusePrompt:name=parts/tone|label=production@@@",
                            "labels": ["production"] if v == 19 else []}  # fmt: skip
                    async with session.post(base, json=body) as r:
                        assert r.status == 201, await r.text()
                url = base + "/support%2Fanswer"
                async with session.get(url) as r:
                    etag = r.headers["ETag"]
                    assert (await r.json())["version"] == 20

                async def run(conditional: bool) -> tuple[list[float], float]:
                    latencies: list[float] = []
                    extra = {"If-None-Match": etag} if conditional else {}
                    per_client = args.requests // args.concurrency

                    async def client() -> None:
                        for _ in range(per_client):
                            t = time.perf_counter()
                            async with session.get(url, headers=extra) as r:
                                await r.read()
                                assert r.status == (304 if conditional else 200)
                            latencies.append((time.perf_counter() - t) * 1000)

                    started = time.perf_counter()
                    await asyncio.gather(*(client() for _ in range(args.concurrency)))
                    return latencies, time.perf_counter() - started

                full, full_s = await run(False)
                cached, cached_s = await run(True)
        finally:
            process.terminate()
            process.wait(30)
        return {
            "requests_each": len(full),
            "concurrency": args.concurrency,
            "full_200_ms": _ms(full),
            "full_200_per_s": round(len(full) / full_s),
            "conditional_304_ms": _ms(cached),
            "conditional_304_per_s": round(len(cached) / cached_s),
            "sdk_processes_one_server_serves_at_60s_ttl": round(len(cached) / cached_s * 60),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2000)
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
