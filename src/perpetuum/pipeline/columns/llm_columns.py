"""`llm_text` and `llm_json` columns: a Jinja prompt (and optional system prompt) sent to a named backend.

The model seed of each call is derived from (run seed, record index, column name), so a record's text depends only
on the spec and its index, never on which other records ran at the same time.
"""

from __future__ import annotations

from typing import Any

from perpetuum.pipeline.columns import ColumnRunner
from perpetuum.pipeline.spec import LLMJsonColumn, LLMTextColumn, ModelParams
from perpetuum.pipeline.templates import render

__all__ = ["LLMTextRunner", "LLMJsonRunner", "generation_params", "chat_messages"]


def generation_params(params: ModelParams, seed: int):
    """The backend's GenerationParams: the column's settings over the backend defaults, plus the derived seed."""
    from perpetuum.llm.base import GenerationParams

    settings = {key: value for key, value in params.model_dump().items() if value is not None}
    return GenerationParams(**settings, seed=seed)


def chat_messages(system_prompt: str | None, prompt: str, record: dict[str, Any]) -> list[dict[str, str]]:
    messages = []
    if system_prompt:
        messages.append({"role": "system", "content": render(system_prompt, record)})
    messages.append({"role": "user", "content": render(prompt, record)})
    return messages


class LLMTextRunner(ColumnRunner):
    column: LLMTextColumn

    async def compute(self, record, context):
        messages = chat_messages(self.column.system_prompt, self.column.prompt, record)
        return await self._answer(messages, context, context.model_seed(self.name))

    async def answer_again(self, record, context, previous: str, request: str, attempt: int):
        """The value asked for again (verify and repair): the column's messages, `previous` as the model's answer,
        then `request` saying what to correct; attempt n has a seed of its own."""
        messages = chat_messages(self.column.system_prompt, self.column.prompt, record)
        messages += [{"role": "assistant", "content": previous}, {"role": "user", "content": request}]
        return await self._answer(messages, context, context.model_seed(self.name, "repair", attempt))

    async def _answer(self, messages, context, seed: int):
        params = generation_params(self.column.params, seed)
        completion = await context.backend(self.column.backend).chat(messages, params)
        return completion.text.strip()


class LLMJsonRunner(LLMTextRunner):
    column: LLMJsonColumn

    async def _answer(self, messages, context, seed: int):
        params = generation_params(self.column.params, seed)
        return await context.backend(self.column.backend).generate_json(
            messages, self.column.json_schema, params, max_attempts=self.column.max_attempts
        )
