"""A large annotation queue opened: the UI reads all of a queue's items before it draws the queue
(its counts, the current item, the item list), through Langfuse's paged list.

Starts ``tracehouse serve`` on a fresh data directory with one key, adds ``--items`` traces to a
queue (Langfuse's API, one call each, as its SDKs do), then reads every item ``--rounds`` times
at 100 and at 1,000 a page (what the UI asked for before and after stop 69), and reports the
time to have them all, and the time to read one item by id (each step through the queue does).

    python -m bench.queue_items --items 2000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import aiohttp

from bench.langfuse import keyed_server


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    async with keyed_server() as (process, api_url, auth, _):
        base = api_url + "/api/public"
        try:
            async with aiohttp.ClientSession(headers={"Authorization": auth}) as session:
                body = {"name": "helpful", "dataType": "BOOLEAN"}
                async with session.post(base + "/score-configs", json=body) as r:
                    config = await r.json()
                body = {"name": "big", "scoreConfigIds": [config["id"]]}
                async with session.post(base + "/annotation-queues", json=body) as r:
                    queue = await r.json()
                items = f"{base}/annotation-queues/{queue['id']}/items"
                started = time.perf_counter()
                for n in range(args.items):
                    async with session.post(items, json={"objectId": f"trace-{n}"}) as r:
                        assert r.status == 200, await r.text()
                added = time.perf_counter() - started

                async def read_all(limit: int) -> float:
                    t, got, page, pages = time.perf_counter(), 0, 1, 1
                    while page <= pages:
                        async with session.get(items, params={"limit": limit, "page": page}) as r:
                            doc = await r.json()
                        got, pages, page = got + len(doc["data"]), doc["meta"]["totalPages"], page + 1
                    assert got == args.items, got
                    return (time.perf_counter() - t) * 1000

                # One item read by id, as each step through the queue (open, annotate, complete) does.
                one = []
                for n in range(0, args.items, max(1, args.items // 50)):
                    async with session.get(items, params={"limit": 1, "page": n + 1}) as r:
                        item_id = (await r.json())["data"][0]["id"]
                    t = time.perf_counter()
                    async with session.get(f"{items}/{item_id}") as r:
                        assert r.status == 200, await r.text()
                    one.append((time.perf_counter() - t) * 1000)
                reads: dict[str, object] = {"one item by id, median_ms": round(statistics.median(one), 1)}
                for limit in (100, 1000):
                    async with session.get(items, params={"limit": limit}) as r:
                        if r.status != 200:  # code before stop 69 lists at most 100 a page
                            reads[f"{limit} a page"] = f"refused ({r.status})"
                            continue
                    times = [await read_all(limit) for _ in range(args.rounds)]
                    median, least = round(statistics.median(times)), round(min(times))
                    reads[f"{limit} a page"] = {"median_ms": median, "min_ms": least}
        finally:
            process.terminate()
    return {"items": args.items, "added_per_s": round(args.items / added), "all_items_read": reads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=1))


if __name__ == "__main__":
    main()
