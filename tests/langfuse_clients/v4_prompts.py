"""Run with langfuse 4.x (or 5.x) on the path: prompt management as a 4.x user does it. Text and chat
prompts (with a placeholder), update_prompt moving labels, compile with placeholders, and an
@observe generation linked to the prompt it used.

Prints one JSON line. Arguments: host public_key secret_key.
"""

import json
import sys

from langfuse import Langfuse, observe

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)

text = client.create_prompt(name="sdk4/summarise", prompt="Summarise {{text}}.", labels=["production"])
text2 = client.create_prompt(name="sdk4/summarise", prompt="Summarise {{text}} in one line.", commit_message="shorter")
chat = client.create_prompt(
    name="sdk4/chat",
    type="chat",
    prompt=[
        {"role": "system", "content": "You are {{persona}}."},
        {"type": "placeholder", "name": "history"},
        {"role": "user", "content": "{{question}}"},
    ],
    labels=["production"],
    config={"model": "gpt-4o"},
)
client.update_prompt(name="sdk4/summarise", version=2, new_labels=["production"])
now_production = client.get_prompt("sdk4/summarise", cache_ttl_seconds=0)
chat_got = client.get_prompt("sdk4/chat", type="chat", cache_ttl_seconds=0)
compiled = chat_got.compile(
    persona="terse",
    question="why?",
    history=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
)


@observe(as_type="generation", name="summarise-llm")
def summarise(text: str) -> str:
    client.update_current_generation(
        prompt=now_production, model="gpt-4o-mini", usage_details={"input": 7, "output": 3}
    )
    return "short"


@observe(name="pipeline")
def pipeline() -> str:
    summarise("a long text")
    return client.get_current_trace_id()


trace_id = pipeline()
client.flush()
client.shutdown()
print(
    json.dumps(
        {
            "versions": [text.version, text2.version, chat.version],
            "production": [now_production.version, now_production.prompt, now_production.commit_message],
            "chat": compiled,
            "chat_config": chat_got.config,
            "trace_id": trace_id,
        }
    )
)
