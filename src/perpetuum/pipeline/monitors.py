"""Live quality monitors: the collapse and diversity signals of the dataset card, measured while a run goes on, on
the last `window` records to finish, so a run that has started to repeat itself can warn or stop early.

    monitors:
      window: 200          # the last 200 finished records
      every: 25            # measured again every 25 records, once min_records have finished
      min_records: 50
      rules:
        - {signal: near_duplicate_rate, max: 0.30, action: stop}
        - {signal: distinct_2, column: story, min: 0.25}                # warns (the default action)
        - {signal: validator_pass_rate, column: answer_check, min: 0.5, action: stop}
        - {signal: judge_drift, column: quality, min: -0.5}             # mean score vs the first window's
        - {signal: vocabulary_ratio, min: 0.5}                          # needs a reference corpus

Signals, per column: `distinct_2`, `near_duplicate_rate` and `vocabulary_ratio` (text columns, measured by
`perpetuum.card.signals.text_signals`, the card's own measures; the ratio against as many words of the reference),
`validator_pass_rate` (validator columns), `judge_drift` (judge columns: the window's mean score, over criteria,
minus the mean of the first `window` records of the run). A stop raises RunStopped with the reason, e.g.
"near-duplicate rate 0.42 over the last 200 records of story, above 0.30: stopping".
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from perpetuum.card.signals import text_signals
from perpetuum.card.text import TEXT_COLUMN_KINDS, text_value
from perpetuum.errors import RunStopped, SpecError
from perpetuum.pipeline.spec import DatasetSpec, MonitorRule

__all__ = ["RunMonitor", "SIGNAL_LABELS"]

SIGNAL_LABELS = {
    "distinct_2": "distinct-2",
    "near_duplicate_rate": "near-duplicate rate",
    "vocabulary_ratio": "vocabulary ratio",
    "judge_drift": "judge-score drift",
    "validator_pass_rate": "validator pass rate",
}
_SIGNAL_KINDS = {
    "distinct_2": TEXT_COLUMN_KINDS,
    "near_duplicate_rate": TEXT_COLUMN_KINDS,
    "vocabulary_ratio": TEXT_COLUMN_KINDS,
    "judge_drift": ("llm_judge",),
    "validator_pass_rate": ("validator",),
}


class RunMonitor:
    """Feed it every finished entry (`observe`); it measures on schedule and returns the stop, if a rule says so."""

    def __init__(self, spec: DatasetSpec, reference: list[str] | None = None) -> None:
        config = spec.monitors
        if config is None:
            raise SpecError("monitors: the spec has no `monitors` section")
        self.config = config
        self.reference = reference or None
        self.columns = {
            signal: [column.name for column in spec.columns if column.kind in kinds]
            for signal, kinds in _SIGNAL_KINDS.items()
        }
        for position, rule in enumerate(config.rules):
            where = f"monitors.rules[{position}]"
            if rule.column is not None and rule.column not in self.columns[rule.signal]:
                raise SpecError(f"{where}.column: {rule.signal} reads a column of kind "
                                f"{' or '.join(_SIGNAL_KINDS[rule.signal])}; {rule.column!r} is none of the spec's")
            if not self.columns[rule.signal]:
                raise SpecError(f"{where}.signal: the spec has no {' or '.join(_SIGNAL_KINDS[rule.signal])} column "
                                f"for {rule.signal}")
            if rule.signal == "vocabulary_ratio" and not self.reference:
                raise SpecError(f"{where}: vocabulary_ratio needs a reference corpus (reference=..., --reference)")
        self.window: deque[dict] = deque(maxlen=config.window)
        self.baseline: list[dict] = []  # the first `window` records, for judge drift
        self.seen = 0
        self.latest: dict[str, dict[str, float]] = {}
        self.warnings: list[str] = []
        self.stop_reason: str | None = None
        self._warned: set[tuple[int, str]] = set()

    def prime(self, records: list[dict]) -> None:
        """Records finished by earlier sessions (index order), so a resumed run's window goes on where it was."""
        for record in records:
            self._add(record)

    def _add(self, record: dict) -> None:
        self.window.append(record)
        if len(self.baseline) < self.config.window:
            self.baseline.append(record)
        self.seen += 1

    def observe(self, entry: dict) -> RunStopped | None:
        """Count one finished entry; on schedule measure, warn, and return RunStopped when a stop rule fires."""
        if entry.get("status") != "ok":
            return None
        self._add(entry["record"])
        if self.seen < self.config.min_records or self.seen % self.config.every:
            return None
        self.latest = self.measure()
        return self._apply_rules()

    def measure(self) -> dict[str, dict[str, float]]:
        """{signal: {column: value}} on the current window."""
        records = list(self.window)
        signals: dict[str, dict[str, float]] = {name: {} for name in SIGNAL_LABELS}
        texts = {name: [text for text in (text_value(record.get(name)) for record in records) if text]
                 for name in self.columns["distinct_2"]}
        measured = text_signals(texts, self.reference) if any(texts.values()) else {"per_column": {}}
        for name, entry in measured["per_column"].items():
            signals["distinct_2"][name] = entry["diversity"].get("distinct_2")
            signals["near_duplicate_rate"][name] = entry["diversity"].get("near_duplicate_rate")
            if "vs_reference" in entry:
                signals["vocabulary_ratio"][name] = entry["vs_reference"].get("vocabulary_ratio")
        for name in self.columns["validator_pass_rate"]:
            verdicts = [record[name] for record in records if isinstance(record.get(name), dict)]
            if verdicts:
                signals["validator_pass_rate"][name] = sum(bool(v.get("passed")) for v in verdicts) / len(verdicts)
        for name in self.columns["judge_drift"]:
            now, start = _mean_score(records, name), _mean_score(self.baseline, name)
            if now is not None and start is not None:
                signals["judge_drift"][name] = now - start
        return {signal: {column: value for column, value in values.items() if _finite(value)}
                for signal, values in signals.items() if values}

    def _apply_rules(self) -> RunStopped | None:
        for position, rule in enumerate(self.config.rules):
            for column, value in self.latest.get(rule.signal, {}).items():
                if rule.column is not None and column != rule.column:
                    continue
                crossed = _crossed(rule, value)
                if crossed is None:
                    continue
                message = (f"{SIGNAL_LABELS[rule.signal]} {value:.2f} over the last {len(self.window)} records of "
                           f"{column}, {crossed}")
                if rule.action == "stop":
                    # The first stop is the run's: records in flight that finish after it are still measured.
                    self.stop_reason = self.stop_reason or f"{message}: stopping"
                    return RunStopped(self.stop_reason, kind="monitor", limit=rule.signal)
                if (position, column) not in self._warned:
                    self._warned.add((position, column))
                    self.warnings.append(message)
        return None

    def line(self) -> str:
        """The latest values, short, for the progress display ("" before the first measurement)."""
        parts = []
        for signal, values in self.latest.items():
            if values:
                worst = min(values.values()) if signal != "near_duplicate_rate" else max(values.values())
                parts.append(f"{SIGNAL_LABELS[signal]} {worst:.2f}")
        return ", ".join(parts)

    def summary(self) -> dict[str, Any]:
        """For the card: the configuration, the last values, the warnings and the stop reason."""
        return {
            "window": self.config.window,
            "every": self.config.every,
            "rules": [rule.model_dump(exclude_none=True) for rule in self.config.rules],
            "records_seen": self.seen,
            "latest": self.latest,
            "warnings": list(self.warnings),
            "stopped": self.stop_reason,
        }


def _crossed(rule: MonitorRule, value: float) -> str | None:
    if rule.max is not None and value > rule.max:
        return f"above {rule.max:.2f}"
    if rule.min is not None and value < rule.min:
        return f"below {rule.min:.2f}"
    return None


def _mean_score(records: list[dict], column: str) -> float | None:
    means = []
    for record in records:
        scores = (record.get(column) or {}).get("scores") if isinstance(record.get(column), dict) else None
        if scores:
            means.append(sum(scores.values()) / len(scores))
    return sum(means) / len(means) if means else None


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
