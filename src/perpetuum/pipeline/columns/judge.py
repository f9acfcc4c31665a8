"""`llm_judge` columns: a model scores the record on a rubric of named criteria, each with a reason.

The model answers JSON that a schema pins down ({criterion: {reason, score}} with integer scores inside each
criterion's range); the reason comes first so the score can follow from it. The stored value is
{"scores": {criterion: int}, "reasons": {criterion: str}}.
"""

from __future__ import annotations

from perpetuum.pipeline.columns import ColumnRunner
from perpetuum.pipeline.columns.llm_columns import generation_params
from perpetuum.pipeline.spec import JudgeColumn
from perpetuum.pipeline.templates import render

__all__ = ["JudgeRunner", "rubric_schema"]

REASON_MAX_CHARACTERS = 160
DEFAULT_JUDGE_SYSTEM_PROMPT = (
    "You are a careful, strict evaluator of training data. Judge only what you are shown, give a one-sentence "
    "reason per criterion, then an integer score. Answer with JSON only."
)


def rubric_schema(column: JudgeColumn) -> dict:
    properties = {
        criterion.name: {
            "type": "object",
            "properties": {
                # Bounded so a small model cannot ramble until max_tokens cuts its JSON short.
                "reason": {"type": "string", "maxLength": REASON_MAX_CHARACTERS},
                # An enum as well as the bounds: grammar converters that ignore minimum/maximum still honour it.
                "score": {
                    "type": "integer",
                    "minimum": criterion.min,
                    "maximum": criterion.max,
                    "enum": list(range(criterion.min, criterion.max + 1)),
                },
            },
            "required": ["reason", "score"],
            "additionalProperties": False,
        }
        for criterion in column.rubric
    }
    return {
        "type": "object",
        "properties": properties,
        "required": [criterion.name for criterion in column.rubric],
        "additionalProperties": False,
    }


def rubric_text(column: JudgeColumn) -> str:
    lines = [
        f"- {criterion.name} ({criterion.min} to {criterion.max}): {criterion.description}"
        for criterion in column.rubric
    ]
    example = ", ".join(f'"{c.name}": {{"reason": "...", "score": {c.max}}}' for c in column.rubric)
    return (
        "Score it on these criteria:\n"
        + "\n".join(lines)
        + f"\n\nAnswer with one JSON object, for example {{{example}}}."
    )


class JudgeRunner(ColumnRunner):
    column: JudgeColumn

    def prepare(self):
        self._schema = rubric_schema(self.column)
        self._rubric = rubric_text(self.column)

    async def compute(self, record, context):
        system = render(self.column.system_prompt, record) if self.column.system_prompt else DEFAULT_JUDGE_SYSTEM_PROMPT
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": render(self.column.prompt, record) + "\n\n" + self._rubric},
        ]
        params = generation_params(self.column.params, context.model_seed(self.name))
        answer = await context.backend(self.column.backend).generate_json(
            messages, self._schema, params, max_attempts=self.column.max_attempts
        )
        return {
            "scores": {c.name: int(answer[c.name]["score"]) for c in self.column.rubric},
            "reasons": {c.name: str(answer[c.name]["reason"]).strip() for c in self.column.rubric},
        }
