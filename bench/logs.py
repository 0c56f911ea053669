"""Log ingest benchmark: acknowledged-and-durable log records/s over OTLP/HTTP protobuf.

Starts ``tracehouse serve`` on a fresh data directory (as bench.ingest does), sends seeded batches
of log records the way an OTel SDK's batch processor would (512 a request, a quarter of them GenAI
events with their messages, the rest application logs with a few attributes) from N concurrent
senders, each waiting for its answer and honouring 503 + Retry-After; then stops the server and
counts the stored records against the acked ones.

    python -m bench.logs --concurrency 4 --records 200000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

import aiohttp
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from bench.ingest import drive, start_server, stored_rows

MESSAGES = [
    {"role": "system", "parts": [{"type": "text", "content": "You are a helpful support assistant."}]},
    {"role": "user", "parts": [{"type": "text", "content": "My order has not arrived yet. What can I do?"}]},
]


def _set(value: AnyValue, x: object) -> None:
    if isinstance(x, dict):
        value.kvlist_value.SetInParent()
        for k, v in x.items():
            _set(value.kvlist_value.values.add(key=k).value, v)
    elif isinstance(x, list):
        value.array_value.SetInParent()
        for v in x:
            _set(value.array_value.values.add(), v)
    elif isinstance(x, int):
        value.int_value = x
    else:
        value.string_value = str(x)


def batch(rng: random.Random, n: int, now_ns: int) -> bytes:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    _set(resource_logs.resource.attributes.add(key="service.name").value, f"svc-{rng.randrange(5)}")
    scope = resource_logs.scope_logs.add()
    scope.scope.name = "bench"
    for i in range(n):
        record = scope.log_records.add()
        record.time_unix_nano = now_ns + i * 1000
        record.observed_time_unix_nano = record.time_unix_nano
        record.trace_id = rng.randbytes(16)
        record.span_id = rng.randbytes(8)
        if i % 4 == 0:
            record.event_name = "gen_ai.client.inference.operation.details"
            _set(record.attributes.add(key="gen_ai.input.messages").value, MESSAGES)
            _set(
                record.attributes.add(key="gen_ai.output.messages").value,
                [{"role": "assistant", "parts": [{"type": "text", "content": f"Answer {rng.random()}"}]}],
            )
        else:
            record.severity_number = rng.choice([9, 9, 9, 13, 17])
            record.severity_text = {9: "INFO", 13: "WARN", 17: "ERROR"}[record.severity_number]
            _set(record.body, f"request {rng.randrange(10**9)} handled in {rng.randrange(500)} ms")
            _set(record.attributes.add(key="http.route").value, f"/api/{rng.choice(['a', 'b', 'c'])}")
            _set(record.attributes.add(key="http.status_code").value, rng.choice([200, 200, 404, 500]))
    return request.SerializeToString()


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        process, info = start_server(data_dir, [])
        url = info["otlp_http_url"] + "/v1/logs"
        rng = random.Random(args.seed)
        now = time.time_ns()
        bodies = [batch(rng, args.batch, now + i * 10**9) for i in range(args.records // args.batch)]
        acked = refused = 0
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)

        async def sender(session: aiohttp.ClientSession) -> None:
            nonlocal acked, refused
            while not queue.empty():
                body = queue.get_nowait()
                while True:
                    async with session.post(
                        url, data=body, headers={"Content-Type": "application/x-protobuf"}
                    ) as response:
                        await response.read()
                        if response.status == 200:
                            acked += args.batch
                            break
                        refused += 1
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))

        async with aiohttp.ClientSession() as session:
            elapsed, peak = await drive(process, [sender(session) for _ in range(args.concurrency)])
        [stored] = await stored_rows(data_dir, "logs")
        return {
            "records": acked,
            "seconds": round(elapsed, 2),
            "records_per_s": round(acked / elapsed),
            "refused_503": refused,
            "stored": stored,
            "otlp_bytes_per_record": round(sum(len(b) for b in bodies) / max(1, len(bodies) * args.batch)),
            "server_rss_peak_mb": round(peak),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--seed", type=int, default=42)
    print(json.dumps(asyncio.run(main_async(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
