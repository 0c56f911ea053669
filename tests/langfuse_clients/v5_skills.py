"""Run with langfuse 5.x (5.2 or later) on the path: skill management through the SDK's API client
(create two versions, one file named by its hash; get by version, label and the default; list;
tags; labels; file contents; delete a version), then a generation that reports the skills available
(propagate_attributes), and a broken create.

Prints one JSON line. Arguments: host public_key secret_key.
"""

import json
import sys

from langfuse import Langfuse, propagate_attributes
from langfuse.api.core.api_error import ApiError
from langfuse.api.skills import SkillVersionFileInput, SkillVersionFileReference

host, public_key, secret_key = sys.argv[1:4]
client = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
skills = client.api.skills

SKILL_V1 = (
    "---\nname: refund-policy\ndescription: Decide refunds under the 2026 policy.\nlicense: MIT\n---\n"
    "# Refunds\nUp to 30 days.\n"
)
SKILL_V2 = SKILL_V1.replace("30 days", "45 days")
GUIDE = "Escalate orders over 500 EUR.\n退款需经理批准。\n"

v1 = skills.create_version(
    files=[
        SkillVersionFileInput(path="SKILL.md", content=SKILL_V1),
        SkillVersionFileInput(path="references/guide.md", content=GUIDE),
    ],
    commit_message="first policy",
)
guide_hash = next(f.sha256hash for f in v1.files if f.path == "references/guide.md")
v2 = skills.create_version(
    files=[
        SkillVersionFileInput(path="SKILL.md", content=SKILL_V2),
        SkillVersionFileReference(path="references/guide.md", sha256hash=guide_hash),
    ],
)


def status(call):
    try:
        call()
    except ApiError as exc:
        return exc.status_code
    return 200


no_production = status(lambda: skills.get("refund-policy"))
labelled = skills.set_labels("refund-policy", 1, labels=["production", "staging"])
moved = skills.set_labels("refund-policy", 2, labels=["staging"])
production = skills.get("refund-policy", include_content=True)
by_version = skills.get("refund-policy", version=2)
by_label = skills.get("refund-policy", label="staging")
latest = skills.get("refund-policy", label="latest")
tagged = skills.update("refund-policy", tags=["support", "billing"])
listed = skills.list()
searched = skills.list(search="REFUNDS UNDER")
by_tag = skills.list(tag="nope")
contents = skills.get_file_contents(sha256hashes=",".join(f.sha256hash for f in by_version.files))
deleted = skills.delete_version("refund-policy", 2)
after_delete = skills.get("refund-policy", label="latest")
missing_version = status(lambda: skills.get("refund-policy", version=2))
no_skill_md = status(lambda: skills.create_version(files=[SkillVersionFileInput(path="README.md", content="hi")]))
bad_header = status(
    lambda: skills.create_version(files=[SkillVersionFileInput(path="SKILL.md", content="# no header")])
)
bad_path = status(
    lambda: skills.create_version(
        files=[
            SkillVersionFileInput(path="SKILL.md", content=SKILL_V1),
            SkillVersionFileInput(path="../x.md", content="x"),
        ]
    )
)
unknown_hash = status(
    lambda: skills.create_version(
        files=[
            SkillVersionFileInput(path="SKILL.md", content=SKILL_V1),
            SkillVersionFileReference(path="a.md", sha256hash="A" * 43 + "="),
        ]
    )
)

available = [{"name": "refund-policy", "version": 1}, {"name": "tone"}]
with client.start_as_current_observation(as_type="span", name="agent-run"):
    with (
        propagate_attributes(skills_available=available),
        client.start_as_current_observation(as_type="generation", name="decide", model="gpt-4o-mini") as gen,
    ):
        gen.update(output="refund approved")
    trace_id = client.get_current_trace_id()
client.flush()
client.shutdown()


def dump(x):
    return x.dict(by_alias=True)


print(json.dumps({
    "v1": dump(v1), "v2": dump(v2), "no_production": no_production, "labelled": dump(labelled), "moved": dump(moved),
    "production": dump(production), "by_version": dump(by_version), "by_label": dump(by_label),
    "latest": dump(latest), "tagged": dump(tagged), "listed": dump(listed), "searched": dump(searched),
    "by_tag": dump(by_tag), "contents": dump(contents), "deleted": dump(deleted), "after_delete": dump(after_delete),
    "missing_version": missing_version, "no_skill_md": no_skill_md, "bad_header": bad_header,
    "bad_path": bad_path, "unknown_hash": unknown_hash, "trace_id": trace_id,
}, default=str))  # fmt: skip
