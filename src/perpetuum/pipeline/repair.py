"""Verify and repair at run time: when a column's (or a dialogue turn's) validator fails, the model is asked again
with the failure shown, up to the `attempts` of its `repair` key, and stops at the first answer that passes.

- A repaired column is checked where its validator runs. On failure the model gets the column's own messages, its
  previous answer as the assistant turn and a user message showing what failed (`repair_request`); then the
  columns between the two that the repaired value feeds are made again, if they can be (expressions, validators;
  model columns keep their first values, e.g. tests written from the first problem), and the validator runs again.
- A repaired dialogue role is checked after each of its turns, on the conversation so far (`TurnCheck`); the turn
  is regenerated while the validator flags it, and the conversation goes on from the final text, which carries
  {"original", "validator", "verdict", "attempts"} under "repair" for the review desk.

Each attempt has its own seed (derived from the record, the column and the attempt) and its tokens count in the
record's usage like any call. What happened goes to the record's entry under "repairs" (the checkpoint keeps it;
repairs.jsonl and the card's `repairs` section are made from it): per repaired column or role, whether the first
answer passed, whether the final one does, the attempts and their tokens, and every attempt's value and verdict.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from perpetuum.pipeline.columns import ColumnRunner
from perpetuum.pipeline.spec_checks import reads_graph
from perpetuum.pipeline.spec_repair import RECOMPUTABLE_KINDS, ancestors, descendants, repair_targets

if TYPE_CHECKING:
    from perpetuum.pipeline.spec import DatasetSpec
    from perpetuum.pipeline.spec_repair import RepairTarget

__all__ = ["attach_repairs", "failure_feedback", "flags_turn", "record_attempt", "repair_request", "RepairingValidator",
           "TurnCheck"]

# Longest failure text shown to the model: a verdict can carry a long message, and a small model loses the thread.
FEEDBACK_LIMIT = 1200


def failure_feedback(verdict: dict[str, Any], turn: int | None = None) -> str:
    """What failed, for the model: the flags (claim, why it is wrong, what is right) of `turn` when the verdict has
    any, else the validator's message."""
    flags = [flag for flag in verdict.get("flags") or [] if isinstance(flag, dict)]
    if turn is not None:
        flags = [flag for flag in flags if flag.get("turn") == turn]
    lines = []
    for flag in flags:
        claim, reason, expected = (str(flag.get(key) or "").strip() for key in ("claim", "reason", "expected"))
        line = f"- {claim!r} is wrong" if claim else "- a problem"
        line += f": {reason}" if reason else ""
        line += f" (correct: {expected})" if expected else ""
        lines.append(line)
    message = str(verdict.get("message") or "").strip()
    if not lines or turn is None:
        lines.insert(0, message or "the check failed without saying why")
    text = "\n".join(lines)
    return text if len(text) <= FEEDBACK_LIMIT else text[: FEEDBACK_LIMIT - 1] + "…"


def repair_request(validator: str, verdict: dict[str, Any], *, json_answer: bool = False,
                   turn: int | None = None) -> str:
    """The user message asking for a corrected answer after `validator` failed with `verdict`."""
    if turn is not None:
        return (f"Your last message did not pass the check `{validator}`:\n{failure_feedback(verdict, turn)}\n\n"
                "Write that message again with this corrected, as your next turn in the conversation, in the same "
                "style and about as long.")
    ending = ("Answer again with the corrected JSON object only." if json_answer else
              "Write the whole answer again with this corrected, in the same format as before.")
    return f"Your answer did not pass the check `{validator}`:\n{failure_feedback(verdict)}\n\n{ending}"


def flags_turn(verdict: dict[str, Any], turn: int) -> bool:
    """Whether a failed verdict points at `turn`: one of its flags names it, or it has no flags (then it is about
    the last turn, the one just spoken)."""
    if verdict.get("passed"):
        return False
    flags = verdict.get("flags")
    if not isinstance(flags, list):
        return True
    return any(isinstance(flag, dict) and flag.get("turn") == turn for flag in flags)


def _summary(target: RepairTarget, role: str | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {"column": target.column}
    if role is not None:
        summary |= {"role": role, "turns_checked": 0, "turns_flagged": 0}
    return summary | {"validator": target.validator, "first_passed": True, "passed": True, "attempts": 0,
                      "prompt_tokens": 0, "completion_tokens": 0, "history": []}


def record_attempt(summary: dict[str, Any], tokens_before: tuple[int, int], context, entry: dict[str, Any]) -> None:
    """Add one repair attempt (`entry`: its value and verdict) to a record's summary, with the tokens it took."""
    prompt, completion = context.tokens_used()
    spent = {"prompt_tokens": prompt - tokens_before[0], "completion_tokens": completion - tokens_before[1]}
    summary["attempts"] += 1
    summary["prompt_tokens"] += spent["prompt_tokens"]
    summary["completion_tokens"] += spent["completion_tokens"]
    summary["history"].append({**entry, **spent})


class RepairingValidator(ColumnRunner):
    """Runs validator column V, and while V fails, has the column it repairs answer again (see the module)."""

    def __init__(self, validator: ColumnRunner, repaired: ColumnRunner, between: list[ColumnRunner],
                 target: RepairTarget) -> None:
        super().__init__(validator.column, validator.spec)
        self.validator = validator
        self.repaired = repaired
        self.between = between  # made again from each repaired value, in run order
        self.target = target

    async def compute(self, record, context):
        verdict = await self.validator.compute(record, context)
        summary = _summary(self.target)
        context.repairs.append(summary)
        if verdict.get("passed"):
            return verdict
        summary["first_passed"] = summary["passed"] = False
        summary["history"].append({"attempt": 0, "value": record[self.repaired.name], "verdict": verdict})
        json_answer = self.repaired.column.kind == "llm_json"
        for attempt in range(1, self.target.config.attempts + 1):
            tokens = context.tokens_used()
            previous = record[self.repaired.name]
            previous_text = previous if isinstance(previous, str) else json.dumps(previous, ensure_ascii=False)
            request = repair_request(self.name, verdict, json_answer=json_answer)
            record[self.repaired.name] = await self.repaired.answer_again(record, context, previous_text, request,
                                                                          attempt)
            for runner in self.between:
                record[runner.name] = await runner.compute(record, context)
            verdict = await self.validator.compute(record, context)
            record_attempt(summary, tokens, context,
                           {"attempt": attempt, "value": record[self.repaired.name], "verdict": verdict})
            if verdict.get("passed"):
                summary["passed"] = True
                break
        return verdict


class TurnCheck:
    """Checks one dialogue role's turns with its repair validator, on the record with the conversation so far."""

    def __init__(self, target: RepairTarget, chain: list[ColumnRunner]) -> None:
        self.target = target
        self.chain = chain  # the columns between the dialogue and the validator, then the validator

    @property
    def validator(self) -> str:
        return self.target.validator

    @property
    def attempts(self) -> int:
        return self.target.config.attempts

    async def verdict(self, record: dict[str, Any], transcript: list[dict], context) -> dict[str, Any]:
        partial = {**record, self.target.column: [dict(turn) for turn in transcript]}
        for runner in self.chain:
            partial[runner.name] = await runner.compute(partial, context)
        return partial[self.chain[-1].name]

    def start(self, context, role: str) -> dict[str, Any]:
        """The record's summary for this role (made on its first checked turn, then added to)."""
        for summary in context.repairs:
            if summary.get("column") == self.target.column and summary.get("role") == role:
                return summary
        summary = _summary(self.target, role)
        context.repairs.append(summary)
        return summary


def attach_repairs(spec: DatasetSpec, runners: list[ColumnRunner]) -> list[ColumnRunner]:
    """The runners with every `repair` key of the spec wired in: each column repair's validator replaced by a
    RepairingValidator, each repaired dialogue role given its TurnCheck (`turn_checks` of the dialogue runner)."""
    targets = repair_targets(spec)
    if not targets:
        return runners
    graph = reads_graph(spec)
    plain = {runner.name: runner for runner in runners}
    order = [runner.name for runner in runners]
    wired = dict(plain)
    for target in targets:
        made_from = descendants(graph, target.column)
        if target.role is None:
            start, end = order.index(target.column), order.index(target.validator)
            between = [plain[name] for name in order[start + 1:end]
                       if name in made_from and spec.column(name).kind in RECOMPUTABLE_KINDS]
            wired[target.validator] = RepairingValidator(plain[target.validator], plain[target.column], between,
                                                         target)
        else:
            needed = ancestors(graph, target.validator) & made_from
            chain = [plain[name] for name in order if name in needed] + [plain[target.validator]]
            plain[target.column].turn_checks[target.role] = TurnCheck(target, chain)
    return [wired[name] for name in order]
