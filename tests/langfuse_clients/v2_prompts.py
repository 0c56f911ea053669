"""Run with langfuse 2.x on the path: prompt management as a 2.x user does it. Create a text prompt
in a folder and a chat prompt, fetch them (production by default, by version, by label), compile,
fall back when a prompt is missing, and link a generation to the prompt it used.

Prints one JSON line. Arguments: host public_key secret_key.
"""

import json
import sys

from langfuse import Langfuse

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

created = client.create_prompt(
    name="dify/answer", prompt="Answer {{question}} briefly.", labels=["production"], config={"temperature": 0.1}
)
client.create_prompt(name="dify/answer", prompt="Answer {{question}} at length.", labels=["staging"])
chat = client.create_prompt(
    name="v2-chat",
    type="chat",
    prompt=[{"role": "system", "content": "You are {{persona}}."}, {"role": "user", "content": "{{q}}"}],
    labels=["production"],
)
production = client.get_prompt("dify/answer", cache_ttl_seconds=0)
staging = client.get_prompt("dify/answer", label="staging", cache_ttl_seconds=0)
first = client.get_prompt("dify/answer", version=1, cache_ttl_seconds=0)
chat_got = client.get_prompt("v2-chat", type="chat", cache_ttl_seconds=0)
fallback = client.get_prompt(
    "does-not-exist", fallback="Fallback {{x}}", cache_ttl_seconds=0, max_retries=1
)  # 0 means retry forever in 2.x's backoff

trace = client.trace(name="prompted")
generation = trace.generation(name="llm", model="gpt-4o-mini", prompt=production, input="q")
generation.end(output="a", usage={"input": 10, "output": 5})
client.flush()
print(
    json.dumps(
        {
            "created_version": created.version,
            "production": [production.version, production.prompt, production.config, production.labels],
            "staging": staging.version,
            "first": first.version,
            "compiled": production.compile(question="why"),
            "chat": chat_got.compile(persona="a pirate", q="hi"),
            "chat_version": chat.version,
            "fallback": [fallback.is_fallback, fallback.compile(x="y")],
            "trace_id": trace.id,
            "generation_id": generation.id,
        }
    )
)
