"""`dialogue` columns: two roles take turns, each seeing the conversation from its own side.

For the speaker, its own earlier messages are `assistant` turns and the other role's are `user` turns, under the
speaker's own system prompt; each role may use its own backend. The conversation ends after `turns` messages or
right after a message containing `stop_phrase`. Each turn's model seed is derived from (run seed, record index,
column name, turn number).

A role with `repair` has each of its turns checked before the other role answers (`perpetuum.pipeline.repair`):
while its validator flags the turn, the turn is written again with the failure shown (seeded by turn and attempt),
and the conversation goes on from the final text, which keeps the first one under "repair".
"""

from __future__ import annotations

from perpetuum.pipeline.columns import ColumnRunner
from perpetuum.pipeline.columns.llm_columns import generation_params
from perpetuum.pipeline.repair import flags_turn, record_attempt, repair_request
from perpetuum.pipeline.spec import DialogueColumn
from perpetuum.pipeline.templates import render

__all__ = ["DialogueRunner"]


class DialogueRunner(ColumnRunner):
    column: DialogueColumn

    def prepare(self) -> None:
        self.turn_checks: dict = {}  # role index -> TurnCheck, wired by perpetuum.pipeline.repair.attach_repairs

    async def compute(self, record, context):
        column = self.column
        systems = [render(role.system_prompt, record) for role in column.roles]
        transcript: list[dict] = []
        if column.opening is not None:
            transcript.append({"role": column.roles[0].name, "content": render(column.opening, record).strip()})
        kickoff = render(column.kickoff, record)
        while len(transcript) < column.turns:
            if transcript and self._stopped(transcript[-1]["content"]):
                break
            turn = len(transcript)
            messages = self._messages(systems[turn % 2], kickoff, transcript, column.roles[turn % 2].name)
            text = await self._speak(context, turn, messages, context.model_seed(self.name, "turn", turn))
            transcript.append({"role": column.roles[turn % 2].name, "content": text})
            check = self.turn_checks.get(turn % 2)
            if check is not None:
                await self._check_turn(check, record, transcript, messages, context)
        return transcript

    @staticmethod
    def _messages(system: str, kickoff: str, transcript: list[dict], speaker: str) -> list[dict[str, str]]:
        """The conversation as `speaker` sees it: its own turns as assistant, the other role's as user."""
        messages = [{"role": "system", "content": system}]
        if not transcript or transcript[0]["role"] == speaker:
            # Chat templates expect a user turn first; when the speaker opened, a kickoff stands before it.
            messages.append({"role": "user", "content": kickoff})
        for message in transcript:
            side = "assistant" if message["role"] == speaker else "user"
            messages.append({"role": side, "content": message["content"]})
        return messages

    async def _speak(self, context, turn: int, messages: list[dict[str, str]], seed: int) -> str:
        speaker = self.column.roles[turn % 2]
        params = generation_params(speaker.params, seed)
        completion = await context.backend(speaker.backend or self.column.backend).chat(messages, params)
        return completion.text.strip()

    async def _check_turn(self, check, record, transcript: list[dict], messages, context) -> None:
        """Check the turn just spoken; while the validator flags it, write it again with the failure shown."""
        turn = len(transcript) - 1
        summary = check.start(context, transcript[turn]["role"])
        summary["turns_checked"] += 1
        verdict = await check.verdict(record, transcript, context)
        if not flags_turn(verdict, turn):
            return
        original, first_verdict = transcript[turn]["content"], verdict
        summary["turns_flagged"] += 1
        summary["first_passed"] = False
        summary["history"].append({"turn": turn, "attempt": 0, "value": original, "verdict": verdict})
        attempt = 0
        while attempt < check.attempts and flags_turn(verdict, turn):
            attempt += 1
            tokens = context.tokens_used()
            request = repair_request(check.validator, verdict, turn=turn)
            again = messages + [{"role": "assistant", "content": transcript[turn]["content"]},
                                {"role": "user", "content": request}]
            seed = context.model_seed(self.name, "turn", turn, "repair", attempt)
            transcript[turn] = {"role": transcript[turn]["role"], "content": await self._speak(context, turn, again,
                                                                                               seed)}
            verdict = await check.verdict(record, transcript, context)
            record_attempt(summary, tokens, context,
                           {"turn": turn, "attempt": attempt, "value": transcript[turn]["content"], "verdict": verdict})
        if flags_turn(verdict, turn):
            summary["passed"] = False
        transcript[turn]["repair"] = {"original": original, "validator": check.validator, "verdict": first_verdict,
                                      "attempts": attempt}

    def _stopped(self, text: str) -> bool:
        phrase = self.column.stop_phrase
        return bool(phrase) and phrase.lower() in text.lower()
