"""Run with langfuse 5.x on the path: the v2 evaluators and evaluation-rules API (api.evaluators,
api.evaluation_rules) as a team would script its LLM-as-a-judge setup.

Prints one JSON line. Arguments: host public_key secret_key.
"""

import json
import sys

from langfuse import Langfuse
from langfuse.api.core.api_error import ApiError
from langfuse.api.evaluation_commons import (
    EvaluationRuleFilter_StringOptions,
    EvaluatorOutputDefinition_Numeric,
    PromptVariableMappingInput,
)
from langfuse.api.evaluation_rules import EvaluationRuleEvaluatorAssignmentInput
from langfuse.api.evaluators import (
    CreateEvaluatorRequest_Code,
    CreateEvaluatorRequest_LlmAsJudge,
    EvaluatorChatMessage,
    EvaluatorModelConfig,
    UpdateEvaluatorMetadataRequest,
    UpdateLlmAsJudgeEvaluatorRequest,
)

host, public_key, secret_key = sys.argv[1:4]
api = Langfuse(public_key=public_key, secret_key=secret_key, host=host).api
out: dict = {}


def status_of(call) -> int:
    try:
        call()
    except ApiError as exc:
        return exc.status_code or 0
    return 200


messages = [
    EvaluatorChatMessage(role="system", content="You grade answers of a support bot."),
    EvaluatorChatMessage(role="user", content="Question: {{question}}\nAnswer: {{answer}}\nTone asked: {{tone}}"),
]
mapping = [
    PromptVariableMappingInput(variable="question", source="input", json_path="$.question"),
    PromptVariableMappingInput(variable="answer", source="output"),
    PromptVariableMappingInput(variable="tone", source="metadata", json_path="$.tone"),
]
created = api.evaluators.create(
    request=CreateEvaluatorRequest_LlmAsJudge(
        name="helpfulness",
        description="how helpful the answer is",
        prompt=messages,
        model_config_=EvaluatorModelConfig(provider="judge", model="judge-1"),
        variable_mapping=mapping,
        output_definition=EvaluatorOutputDefinition_Numeric(
            min_value=0, max_value=1, score_value_instructions="1 is fully helpful"
        ),
    )
)
out["created"] = {
    "type": created.type,
    "version": created.version,
    "variables": created.variables,
    "roles": [m.role for m in created.prompt],
    "model": created.model_config_.model,
    "output": [
        created.output_definition.data_type,
        created.output_definition.max_value,
        created.output_definition.score_value_instructions,
    ],
    "mapping": [(m.variable, m.source, m.json_path) for m in created.variable_mapping],
}
evaluator_id = created.id
renamed = api.evaluators.update(evaluator_id, request=UpdateEvaluatorMetadataRequest(description="helpfulness, 0-1"))
out["metadata_update"] = {"version": renamed.version, "description": renamed.description}
changed = api.evaluators.update(
    evaluator_id,
    request=UpdateLlmAsJudgeEvaluatorRequest(
        prompt=messages,
        model_config_=EvaluatorModelConfig(provider="judge", model="judge-1"),
        variable_mapping=mapping,
        output_definition=EvaluatorOutputDefinition_Numeric(min_value=0, max_value=1),
    ),
)
out["definition_update"] = {"version": changed.version, "description": changed.description}
out["versions"] = [v.version for v in api.evaluators.list_versions(evaluator_id).data]
rule = api.evaluation_rules.create(
    name="helpful",
    enabled=True,
    filter=[EvaluationRuleFilter_StringOptions(column="name", operator="any of", value=["llm"])],
    evaluator_assignments=[EvaluationRuleEvaluatorAssignmentInput(evaluator_id=evaluator_id)],
)
out["rule"] = {
    "id": rule.id,
    "enabled": rule.enabled,
    "sampling": rule.sampling,
    "filter": [(f.column, f.operator, f.value) for f in rule.filter],
    "evaluators": [a.evaluator_id for a in rule.evaluator_assignments],
}
out["rule_read"] = api.evaluation_rules.get(rule.id).name
out["rules"] = [r.id for r in api.evaluation_rules.list().data]
out["assignments"] = [a.evaluation_rule_id for a in api.evaluators.get(evaluator_id).evaluation_rule_assignments]
out["evaluators"] = [e.id for e in api.evaluators.list(limit=10).data]
out["evaluator_id"] = evaluator_id
# What Tracehouse refuses, in the API's own error shape (the SDK raises its typed errors).
out["delete_in_use"] = status_of(lambda: api.evaluators.delete(evaluator_id))
out["code_evaluator"] = status_of(
    lambda: api.evaluators.create(
        request=CreateEvaluatorRequest_Code(name="py", source_code="def f(): pass", source_code_language="PYTHON")
    )
)
out["unknown"] = status_of(lambda: api.evaluators.get("no-such-evaluator"))
out["two_evaluators"] = status_of(
    lambda: api.evaluation_rules.create(
        name="two",
        enabled=False,
        evaluator_assignments=[EvaluationRuleEvaluatorAssignmentInput(evaluator_id=evaluator_id)] * 2,
    )
)
draft = api.evaluation_rules.create(name="draft", enabled=False, evaluator_assignments=[])
out["draft"] = {"enabled": draft.enabled, "evaluators": draft.evaluator_assignments}
out["draft_deleted"] = api.evaluation_rules.delete(draft.id).id == draft.id
print(json.dumps(out, default=str))
