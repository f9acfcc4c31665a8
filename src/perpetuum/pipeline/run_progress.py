"""Progress of a generation run in the unit the work is done in: model calls (a dialogue turn is one), against the
calls the records are expected to take, with tokens and an ETA from the measured pace.

A dialogue record finishes only at its last turn, so a count of finished records sits at 0 for the first minutes
and an ETA from it is wild. Calls arrive steadily: the bar advances with each answer. The expected calls per
record come from the run's estimate when there is one (`estimate.json` in the output folder, written by
`perpetuum estimate -o`), else from the spec (one call per model column, `turns` per dialogue), and are corrected
by the records that finish. The ETA is the expected calls still to come at the pace measured since the first
answer (model loading left out).
"""

from __future__ import annotations

import time

from perpetuum.pipeline.spec import DatasetSpec

__all__ = ["RunProgress", "calls_per_record_from_spec"]

# How many finished records the prior (estimate or spec) is worth when it is blended with what the run measures.
PRIOR_WEIGHT = 4


def calls_per_record_from_spec(spec: DatasetSpec) -> float:
    """Model calls one record needs if nothing is retried or repaired and no dialogue ends early."""
    calls = 0.0
    for column in spec.columns:
        if column.kind in ("llm_text", "llm_json", "llm_judge"):
            calls += 1
        elif column.kind == "dialogue":
            calls += column.turns - (1 if column.opening is not None else 0)
    return max(calls, 1.0)


class RunProgress:
    """Counts answers (`on_call`, a CallGate listener) and records (`on_record`); draws on a ProgressHandle."""

    def __init__(self, bar, name: str, records: int, calls_per_record: float, tokens_per_record: float | None = None,
                 monitor=None) -> None:
        self.bar = bar
        self.name = name
        self.records = records
        self.prior_calls = float(calls_per_record)
        self.prior_tokens = tokens_per_record
        self.monitor = monitor
        self.calls = 0
        self.cached = 0
        self.tokens = 0
        self.done = 0
        self.failed = 0
        self.repaired = 0
        self.show_repairs = False
        self.finished_calls = 0  # calls of the records that finished
        self.finished_tokens = 0
        self.started = time.perf_counter()
        self.first_answer: float | None = None

    def on_call(self, backend: str, completion, cached: bool) -> None:
        self.calls += 1
        self.cached += bool(cached)
        self.tokens += int(completion.completion_tokens)
        if self.first_answer is None:
            self.first_answer = time.perf_counter()
        self._draw()

    def on_record(self, entry: dict) -> None:
        self.done += 1
        self.failed += entry["status"] != "ok"
        self.repaired += any(summary["attempts"] for summary in entry.get("repairs") or [])
        for usage in entry["usage"].values():
            self.finished_calls += usage.get("calls", 0) + usage.get("cached_calls", 0)
            self.finished_tokens += usage.get("completion_tokens", 0) + usage.get("cached_completion_tokens", 0)
        self._draw()

    def expected_calls(self) -> float:
        """Calls the whole session is expected to take: the prior per record blended with finished records."""
        per_record = (self.prior_calls * PRIOR_WEIGHT + self.finished_calls) / (PRIOR_WEIGHT + self.done)
        return max(float(self.calls), per_record * self.records)

    def expected_tokens(self) -> float | None:
        if self.prior_tokens is None and not self.done:
            return None
        prior = self.prior_tokens if self.prior_tokens is not None else self.finished_tokens / self.done
        weight = PRIOR_WEIGHT if self.prior_tokens is not None else 0
        per_record = (prior * weight + self.finished_tokens) / (weight + self.done)
        return max(float(self.tokens), per_record * self.records)

    def eta_seconds(self) -> float | None:
        """Expected calls still to come at the pace since the first answer; None before two answers."""
        if self.first_answer is None or self.calls < 2:
            return None
        pace = (time.perf_counter() - self.first_answer) / (self.calls - 1)
        return max(self.expected_calls() - self.calls, 0.0) * pace

    def description(self) -> str:
        eta = self.eta_seconds()
        parts = [f"{self.done}/{self.records} records", f"ETA {clock(eta)}" if eta is not None else "ETA measuring"]
        expected_tokens = self.expected_tokens()
        tokens = f"{self.tokens:,} tokens" + (f" of ~{expected_tokens:,.0f}" if expected_tokens else "")
        parts.append(tokens)
        elapsed = time.perf_counter() - self.started
        if elapsed > 0 and self.tokens:
            parts.append(f"{self.tokens / elapsed:,.0f} tok/s")
        if self.cached:
            parts.append(f"{self.cached} cached")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.show_repairs:
            parts.append(f"{self.repaired} repaired")
        if self.monitor is not None and self.monitor.line():
            parts.append(self.monitor.line())
        return f"Generating {self.name} (calls): " + ", ".join(parts)

    def _draw(self) -> None:
        if self.bar.shown:
            self.bar.update(self.description(), total=round(self.expected_calls()), completed=self.calls)


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
