"""Judges measured against the objective checks: does a low grade predict a failed check?

For every `llm_judge` column and every validator column of a run, the AUC of the judge's grade (the mean over its
criteria, and each criterion alone) for telling the records that passed the check from those that failed it:
the probability that a random passing record is graded above a random failing one, ties counting half (the
Mann-Whitney U statistic over n_passed x n_failed). 0.5 is chance; 1 means every passing record was graded above
every failing one. A 95 % interval comes from a stratified bootstrap (passing and failing records resampled
separately, BOOTSTRAP_RESAMPLES times, seeded, so the card is reproducible).

Verdicts, per judge and check (a judge in a spec without validator columns has "no checks"):
- "too few records": fewer than MIN_RECORDS_PER_CLASS records passed or failed the check (no AUC is judged);
- "informative": AUC at least INFORMATIVE_AUC and the interval's lower end above 0.5;
- "reversed": the interval's upper end below 0.5 (higher grades go with failing the check);
- "not informative": anything else (the interval holds 0.5, or the AUC is below INFORMATIVE_AUC).

A judge is informative when it is for at least one check. A score filter on a judge that measured not informative
(or reversed) keeps and drops records on noise: the card warns.

    section = judge_agreement(spec, entries)      # the card's "judges" section
    grade_auc([1, 4, 5], [False, True, True])      # 1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from perpetuum.markdown import markdown_text

if TYPE_CHECKING:
    from perpetuum.pipeline.spec import DatasetSpec

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "INFORMATIVE_AUC",
    "MIN_RECORDS_PER_CLASS",
    "auc_interval",
    "grade_auc",
    "judge_agreement",
    "judges_markdown",
    "verdict_of",
]

MIN_RECORDS_PER_CLASS = 5
INFORMATIVE_AUC = 0.6
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
INFORMATIVE, NOT_INFORMATIVE, REVERSED, TOO_FEW = "informative", "not informative", "reversed", "too few records"
NO_CHECKS = "no checks"


def _counts(grades, passed) -> tuple[np.ndarray, np.ndarray]:
    """How many passing and how many failing records have each distinct grade (grades in increasing order)."""
    grades = np.asarray(grades, dtype=float)
    passed = np.asarray(passed, dtype=bool)
    _, position = np.unique(grades, return_inverse=True)
    size = int(position.max()) + 1 if len(position) else 0
    return (np.bincount(position[passed], minlength=size).astype(float),
            np.bincount(position[~passed], minlength=size).astype(float))


def _auc_of_counts(good: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """The AUC of grade counts (the last axis runs over distinct grades, increasing): each passing record scores
    the failing records graded below it, and half of those graded the same."""
    below = np.cumsum(bad, axis=-1) - bad
    return (good * (below + 0.5 * bad)).sum(axis=-1) / (good.sum(axis=-1) * bad.sum(axis=-1))


def grade_auc(grades, passed) -> float | None:
    """P(grade of a passing record > grade of a failing one) + half P(equal): the Mann-Whitney AUC, in [0, 1].
    None when no record passed or none failed."""
    good, bad = _counts(grades, passed)
    if not good.sum() or not bad.sum():
        return None
    return float(_auc_of_counts(good, bad))


def auc_interval(grades, passed, resamples: int = BOOTSTRAP_RESAMPLES, level: float = 0.95,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float] | None:
    """A percentile bootstrap interval of `grade_auc`, resampling passing and failing records separately so each
    resample keeps both groups' sizes. None when either group is empty."""
    good, bad = _counts(grades, passed)
    if not good.sum() or not bad.sum():
        return None
    # Drawing n records with replacement is drawing their grade counts from a multinomial: all resamples at once.
    rng = np.random.default_rng(seed)
    good_samples = rng.multinomial(int(good.sum()), good / good.sum(), size=resamples)
    bad_samples = rng.multinomial(int(bad.sum()), bad / bad.sum(), size=resamples)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(_auc_of_counts(good_samples, bad_samples), [tail, 100 - tail])
    return float(low), float(high)


def verdict_of(n_passed: int, n_failed: int, auc: float | None, interval: tuple[float, float] | None) -> str:
    """The verdict of one judge against one check (see the module)."""
    if min(n_passed, n_failed) < MIN_RECORDS_PER_CLASS or auc is None or interval is None:
        return TOO_FEW
    if interval[1] < 0.5:
        return REVERSED
    if auc >= INFORMATIVE_AUC and interval[0] > 0.5:
        return INFORMATIVE
    return NOT_INFORMATIVE


def _measure(grades: list[float], passed: list[bool]) -> dict[str, Any]:
    n_passed = sum(passed)
    n_failed = len(passed) - n_passed
    auc = grade_auc(grades, passed)
    interval = auc_interval(grades, passed) if min(n_passed, n_failed) >= MIN_RECORDS_PER_CLASS else None
    return {
        "passed": n_passed,
        "failed": n_failed,
        "auc": None if auc is None else round(auc, 3),
        "ci95": None if interval is None else [round(interval[0], 3), round(interval[1], 3)],
        "verdict": verdict_of(n_passed, n_failed, auc, interval),
    }


def _overall(verdicts: list[str]) -> str:
    if not verdicts:
        return NO_CHECKS
    if INFORMATIVE in verdicts:
        return INFORMATIVE
    measured = [verdict for verdict in verdicts if verdict != TOO_FEW]
    if not measured:
        return TOO_FEW
    return REVERSED if all(verdict == REVERSED for verdict in measured) else NOT_INFORMATIVE


def _scores(value: Any) -> dict[str, float] | None:
    scores = value.get("scores") if isinstance(value, dict) else None
    if not isinstance(scores, dict) or not scores:
        return None
    if not all(isinstance(score, (int, float)) and not isinstance(score, bool) for score in scores.values()):
        return None
    return {name: float(score) for name, score in scores.items()}


def _against_checks(records: list[dict], grade_of, checks: list[str]) -> dict[str, dict]:
    measured = {}
    for check in checks:
        pairs = [(grade_of(record), record[check]["passed"]) for record in records
                 if isinstance(record.get(check), dict) and isinstance(record[check].get("passed"), bool)]
        pairs = [(grade, passed) for grade, passed in pairs if grade is not None]
        measured[check] = _measure([grade for grade, _ in pairs], [passed for _, passed in pairs])
    return measured


def judge_agreement(spec: DatasetSpec, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The card's "judges" section: per judge column, its AUC against every validator column (mean grade and each
    criterion), its verdict, and warnings for score filters that rely on a judge that is not informative."""
    records = [entry["record"] for entry in entries if entry.get("status") == "ok"]
    checks = [column.name for column in spec.columns if column.kind == "validator"]
    per_judge: dict[str, Any] = {}
    for column in spec.columns:
        if column.kind != "llm_judge":
            continue
        graded = [record for record in records if _scores(record.get(column.name)) is not None]

        def mean_grade(record, name=column.name):
            scores = _scores(record[name])
            return sum(scores.values()) / len(scores)

        against = _against_checks(graded, mean_grade, checks)
        criteria = {
            criterion.name: _against_checks(
                graded, lambda record, c=criterion.name, name=column.name: _scores(record[name]).get(c), checks)
            for criterion in column.rubric
        }
        per_judge[column.name] = {
            "records": len(graded),
            "verdict": _overall([measured["verdict"] for measured in against.values()]),
            "checks": against,
            "criteria": criteria,
        }
    return {
        "method": "AUC of the judge's grade for telling records that passed each check from those that failed it "
        f"(Mann-Whitney), with a 95 % stratified bootstrap interval ({BOOTSTRAP_RESAMPLES} resamples); informative "
        f"when AUC >= {INFORMATIVE_AUC} and the interval lies above 0.5; at least {MIN_RECORDS_PER_CLASS} passing "
        "and failing records per check",
        "per_judge": per_judge,
        "warnings": _filter_warnings(spec, per_judge),
    }


def _filter_warnings(spec: DatasetSpec, per_judge: dict[str, Any]) -> list[str]:
    warnings = []
    for position, rule in enumerate(spec.filters):
        if getattr(rule, "kind", None) != "score" or rule.column not in per_judge:
            continue
        judge = per_judge[rule.column]
        measured = judge["criteria"][rule.criterion] if rule.criterion else judge["checks"]
        verdict = _overall([item["verdict"] for item in measured.values()])
        if verdict in (NOT_INFORMATIVE, REVERSED):
            target = f"{rule.column}.{rule.criterion}" if rule.criterion else f"the mean grade of {rule.column}"
            aucs = ", ".join(f"{check} {item['auc']:.2f}" for check, item in measured.items()
                             if item["verdict"] != TOO_FEW)
            warnings.append(
                f"filters[{position}] keeps records on {target}, a judge that is {verdict} here (AUC against the "
                f"checks: {aucs}): the filter keeps and drops records on noise; remove it or use a stronger judge"
            )
    return warnings


def _interval_text(measured: dict) -> str:
    return "n/a" if measured["ci95"] is None else f"{measured['ci95'][0]:.2f}-{measured['ci95'][1]:.2f}"


def judges_markdown(section: dict[str, Any] | None) -> list[str]:
    """The card's Markdown lines for the judges section (none when the spec has no judge)."""
    if not section or not section.get("per_judge"):
        return []
    lines = [
        "## Judges against the checks",
        "",
        "Does a low grade predict a failed check? AUC of each judge's mean grade for telling the records that passed "
        "a check from those that failed it (0.5: chance; 1: every passing record graded above every failing one), "
        f"with a 95 % bootstrap interval; informative when AUC >= {INFORMATIVE_AUC} and the interval lies above 0.5.",
        "",
        "| judge | check | passed | failed | AUC | 95 % interval | verdict |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for judge, result in section["per_judge"].items():
        for check, measured in result["checks"].items():
            auc = "n/a" if measured["auc"] is None else f"{measured['auc']:.2f}"
            lines.append(f"| {markdown_text(judge)} | {markdown_text(check)} | {measured['passed']} | "
                         f"{measured['failed']} | {auc} | {_interval_text(measured)} | {measured['verdict']} |")
    lines.append("")
    for judge, result in section["per_judge"].items():
        verdict = result["verdict"]
        if verdict == INFORMATIVE:
            sentence = "predicts at least one check: its grades carry information about the records"
        elif verdict == NO_CHECKS:
            sentence = "has no objective check to be measured against: the spec has no validator column"
        elif verdict == TOO_FEW:
            sentence = (f"could not be measured: no check had {MIN_RECORDS_PER_CLASS} passing and "
                        f"{MIN_RECORDS_PER_CLASS} failing records among its {result['records']} graded records")
        else:
            sentence = (f"is {verdict}: its grades do not predict any check here, so a filter on them keeps and drops "
                        "records on noise")
        lines.append(f"- **{markdown_text(judge)}** {sentence}.")
    lines += [f"- **Warning:** {markdown_text(warning)}" for warning in section["warnings"]]
    return lines + [""]
