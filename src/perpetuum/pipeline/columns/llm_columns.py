"""`llm_text` and `llm_json` columns: a Jinja prompt (after an optional system prompt and worked examples) sent to a
named backend.

The model seed of each call is derived from (run seed, record index, column name), so a record's text depends only
on the spec and its index, never on which other records ran at the same time.
"""

from __future__ import annotations

from typing import Any

from perpetuum.errors import SpecError
from perpetuum.pipeline.columns import ColumnRunner
from perpetuum.pipeline.columns.expression import is_true
from perpetuum.pipeline.spec import LLMJsonColumn, LLMTextColumn, ModelParams
from perpetuum.pipeline.templates import render

__all__ = ["LLMTextRunner", "LLMJsonRunner", "generation_params", "chat_messages"]


def generation_params(params: ModelParams, seed: int):
    """The backend's GenerationParams: the column's settings over the backend defaults, plus the derived seed."""
    from perpetuum.llm.base import GenerationParams

    settings = {key: value for key, value in params.model_dump().items() if value is not None}
    return GenerationParams(**settings, seed=seed)


def chat_messages(column: LLMTextColumn, record: dict[str, Any]) -> list[dict[str, str]]:
    """The column's conversation for `record`: the system prompt, each example's user and assistant turns, then
    the prompt, every part rendered with the record."""
    messages = []
    if column.system_prompt:
        messages.append({"role": "system", "content": render(column.system_prompt, record)})
    for example in column.examples:
        messages.append({"role": "user", "content": render(example.user, record)})
        messages.append({"role": "assistant", "content": render(example.assistant, record)})
    messages.append({"role": "user", "content": render(column.prompt, record)})
    return messages


class LLMTextRunner(ColumnRunner):
    column: LLMTextColumn
    skipped_value: Any = ""

    def wanted(self, record: dict[str, Any]) -> bool:
        """Whether the record needs the call: the column's `when` renders true (always, without `when`)."""
        if self.column.when is None:
            return True
        text = render(self.column.when, record)
        verdict = is_true(text)
        if verdict is None:
            raise SpecError(f"column {self.name!r}: `when` rendered {text.strip()[:60]!r}, which is neither true nor "
                            "false; write it as a comparison or a test, e.g. \"{{ answer == '' }}\"")
        return verdict

    async def compute(self, record, context):
        if not self.wanted(record):
            return self.skipped_value
        messages = chat_messages(self.column, record)
        return await self._answer(messages, context, context.model_seed(self.name))

    async def answer_again(self, record, context, previous: str, request: str, attempt: int):
        """The value asked for again (verify and repair): the column's messages, `previous` as the model's answer,
        then `request` saying what to correct; attempt n has a seed of its own."""
        if not self.wanted(record):
            return self.skipped_value
        messages = chat_messages(self.column, record)
        messages += [{"role": "assistant", "content": previous}, {"role": "user", "content": request}]
        return await self._answer(messages, context, context.model_seed(self.name, "repair", attempt))

    async def _answer(self, messages, context, seed: int):
        params = generation_params(self.column.params, seed)
        completion = await context.backend(self.column.backend).chat(messages, params)
        return completion.text.strip()


class LLMJsonRunner(LLMTextRunner):
    column: LLMJsonColumn
    skipped_value = None

    async def _answer(self, messages, context, seed: int):
        params = generation_params(self.column.params, seed)
        return await context.backend(self.column.backend).generate_json(
            messages, self.column.json_schema, params, max_attempts=self.column.max_attempts
        )
