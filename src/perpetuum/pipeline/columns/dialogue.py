"""`dialogue` columns: two roles take turns, each seeing the conversation from its own side.

For the speaker, its own earlier messages are `assistant` turns and the other role's are `user` turns, under the
speaker's own system prompt; each role may use its own backend. The conversation ends after `turns` messages or
right after a message containing `stop_phrase`. Each turn's model seed is derived from (run seed, record index,
column name, turn number).
"""

from __future__ import annotations

from perpetuum.pipeline.columns import ColumnRunner
from perpetuum.pipeline.columns.llm_columns import generation_params
from perpetuum.pipeline.spec import DialogueColumn
from perpetuum.pipeline.templates import render

__all__ = ["DialogueRunner"]


class DialogueRunner(ColumnRunner):
    column: DialogueColumn

    async def compute(self, record, context):
        column = self.column
        systems = [render(role.system_prompt, record) for role in column.roles]
        transcript: list[dict[str, str]] = []
        if column.opening is not None:
            transcript.append({"role": column.roles[0].name, "content": render(column.opening, record).strip()})
        kickoff = render(column.kickoff, record)
        while len(transcript) < column.turns:
            if transcript and self._stopped(transcript[-1]["content"]):
                break
            turn = len(transcript)
            speaker = column.roles[turn % 2]
            messages = [{"role": "system", "content": systems[turn % 2]}]
            if not transcript or transcript[0]["role"] == speaker.name:
                # Chat templates expect a user turn first; when the speaker opened, a kickoff stands before it.
                messages.append({"role": "user", "content": kickoff})
            for message in transcript:
                side = "assistant" if message["role"] == speaker.name else "user"
                messages.append({"role": side, "content": message["content"]})
            params = generation_params(speaker.params, context.model_seed(self.name, "turn", turn))
            completion = await context.backend(speaker.backend or column.backend).chat(messages, params)
            transcript.append({"role": speaker.name, "content": completion.text.strip()})
        return transcript

    def _stopped(self, text: str) -> bool:
        phrase = self.column.stop_phrase
        return bool(phrase) and phrase.lower() in text.lower()
