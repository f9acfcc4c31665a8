"""The privacy ledger: every differentially private release a fit makes, and the budget it must stay within.

Perpetuum's private synthesizers account in zero-concentrated DP (zCDP, Bun & Steinke 2016): the Gaussian
mechanisms they use compose by adding their rho. Some steps (discovering category sets by thresholding noisy counts)
also spend a small delta directly. The guarantee a user asks for is (epsilon, delta)-DP; the ledger turns the
composed (rho, direct delta) into epsilon with the conversion of Canonne, Kamath & Steinke (2020), Proposition 12,
using what is left of delta.

    ledger = PrivacyLedger(epsilon=3.0, delta=1e-6)           # the data set's whole budget
    ledger.charge("measurement", "one-way marginals", rho=0.05)
    ledger.epsilon_spent, ledger.to_markdown()

A charge that would take the composed release past (epsilon, delta) raises `PrivacyBudgetError` and records
nothing, so a fit that plans its charges before touching the data refuses to run instead of overspending.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy.optimize import brentq, minimize_scalar

from perpetuum.errors import ParameterError, PerpetuumError
from perpetuum.markdown import markdown_text

__all__ = [
    "STAGES",
    "LedgerEntry",
    "PrivacyBudgetError",
    "PrivacyLedger",
    "epsilon_from_rho",
    "rho_from_epsilon",
]

STAGES = ("preprocessing", "selection", "measurement")
_TOLERANCE = 1e-9  # relative slack for floating-point sums of planned charges


class PrivacyBudgetError(PerpetuumError, ValueError):
    """A differentially private release would exceed the privacy budget; nothing was released."""


def epsilon_from_rho(rho: float, delta: float) -> float:
    """The epsilon of a rho-zCDP release at `delta` (Canonne, Kamath & Steinke 2020, Prop. 12; tighter than
    rho + 2 sqrt(rho log(1/delta))). 0 when rho is 0; inf when delta <= 0 and rho > 0."""
    if rho < 0:
        raise ParameterError(f"rho must be non-negative, got {rho}")
    if rho == 0:
        return 0.0
    if delta <= 0:
        return math.inf
    if delta >= 1:
        return 0.0

    def bound(alpha: float) -> float:
        return alpha * rho + (math.log(1 / delta) + (alpha - 1) * math.log(1 - 1 / alpha) - math.log(alpha)) / (alpha - 1)

    best = minimize_scalar(bound, bounds=(1.0 + 1e-9, 1e6), method="bounded", options={"xatol": 1e-10})
    return max(0.0, min(float(best.fun), rho + 2 * math.sqrt(rho * math.log(1 / delta))))


def rho_from_epsilon(epsilon: float, delta: float) -> float:
    """The largest rho whose zCDP release is (epsilon, delta)-DP (inverse of `epsilon_from_rho`)."""
    if epsilon <= 0 or delta <= 0:
        raise ParameterError(f"epsilon and delta must be positive to allow any release, got {epsilon}, {delta}")
    high = epsilon
    while epsilon_from_rho(high, delta) < epsilon:
        high *= 2
    return brentq(lambda rho: epsilon_from_rho(rho, delta) - epsilon, 1e-15, high, xtol=1e-14, rtol=1e-12)


@dataclass(frozen=True)
class LedgerEntry:
    """One release: its stage, what it released, and its cost (rho under zCDP; delta spent directly)."""

    stage: str
    step: str
    rho: float
    delta: float = 0.0
    mechanism: str = ""
    columns: tuple[str, ...] = ()


class PrivacyLedger:
    """The releases made against one (epsilon, delta) budget; see the module docstring."""

    def __init__(self, epsilon: float, delta: float):
        _check_budget(epsilon, delta)
        self.epsilon = float(epsilon)
        self.delta = float(delta)
        self.entries: list[LedgerEntry] = []
        self.notes: list[str] = []

    # --- spending -------------------------------------------------------------------------------------------

    def charge(self, stage: str, step: str, rho: float, delta: float = 0.0, mechanism: str = "",
               columns=()) -> LedgerEntry:
        """Record a release, or raise PrivacyBudgetError (recording nothing) if it would exceed the budget."""
        if stage not in STAGES:
            raise ParameterError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
        if rho < 0 or delta < 0:
            raise ParameterError(f"a charge must be non-negative, got rho={rho}, delta={delta}")
        entry = LedgerEntry(stage, step, float(rho), float(delta), mechanism, tuple(columns))
        self._check_fits(self.entries + [entry], entry)
        self.entries.append(entry)
        return entry

    def charge_all(self, entries: list[LedgerEntry]) -> None:
        """Record several releases at once, or none of them if together they would exceed the budget."""
        if entries:
            self._check_fits(self.entries + list(entries), entries[-1])
        self.entries.extend(entries)

    def note(self, text: str) -> None:
        """A fact about the pipeline that costs no budget (e.g. "category sets of workclass: from the schema")."""
        self.notes.append(text)

    # --- reading --------------------------------------------------------------------------------------------

    @property
    def rho_spent(self) -> float:
        return sum(entry.rho for entry in self.entries)

    @property
    def delta_spent_directly(self) -> float:
        return sum(entry.delta for entry in self.entries)

    @property
    def epsilon_spent(self) -> float:
        """The epsilon of everything recorded, at the budget's delta less what was spent directly."""
        return epsilon_from_rho(self.rho_spent, self.delta - self.delta_spent_directly)

    def rho_left(self, direct_delta: float = 0.0) -> float:
        """The rho still available if a further `direct_delta` is spent directly."""
        delta_left = self.delta - self.delta_spent_directly - direct_delta
        if delta_left <= 0:
            return 0.0
        return max(0.0, rho_from_epsilon(self.epsilon, delta_left) - self.rho_spent)

    def by_stage(self) -> dict[str, dict]:
        """rho, direct delta and share of the spent epsilon per stage (stages with no entry included, at 0)."""
        total_rho = self.rho_spent
        spent = self.epsilon_spent
        summary = {}
        for stage in STAGES:
            rho = sum(entry.rho for entry in self.entries if entry.stage == stage)
            summary[stage] = {
                "rho": rho,
                "delta": sum(entry.delta for entry in self.entries if entry.stage == stage),
                "epsilon_share": spent * rho / total_rho if total_rho > 0 else 0.0,
            }
        return summary

    def to_dict(self) -> dict:
        total_rho = self.rho_spent
        spent = self.epsilon_spent
        return {
            "accounting": "zCDP (rho adds up); epsilon by Canonne-Kamath-Steinke 2020 at the delta left",
            "budget": {"epsilon": self.epsilon, "delta": self.delta},
            "spent": {"epsilon": spent, "rho": total_rho, "delta_spent_directly": self.delta_spent_directly},
            "by_stage": self.by_stage(),
            "entries": [
                {**asdict(entry), "columns": list(entry.columns),
                 "epsilon_share": spent * entry.rho / total_rho if total_rho > 0 else 0.0}
                for entry in self.entries
            ],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, document: dict) -> "PrivacyLedger":
        ledger = cls(document["budget"]["epsilon"], document["budget"]["delta"])
        ledger.entries = [
            LedgerEntry(item["stage"], item["step"], item["rho"], item["delta"], item.get("mechanism", ""),
                        tuple(item.get("columns", ())))
            for item in document["entries"]
        ]
        ledger.notes = list(document.get("notes", []))
        return ledger

    def to_markdown(self) -> str:
        return ledger_markdown(self.to_dict())

    def _check_fits(self, entries: list[LedgerEntry], last: LedgerEntry) -> None:
        rho = sum(entry.rho for entry in entries)
        direct = sum(entry.delta for entry in entries)
        if direct > self.delta * (1 + _TOLERANCE):
            raise PrivacyBudgetError(
                f"{last.stage} step {last.step!r} would spend delta {direct:.3g} directly, more than the budget's "
                f"delta {self.delta:.3g}; raise delta or give the categories in the schema"
            )
        epsilon = epsilon_from_rho(rho, self.delta - direct)
        if epsilon > self.epsilon * (1 + _TOLERANCE) + 1e-12:
            raise PrivacyBudgetError(
                f"{last.stage} step {last.step!r} would bring the privacy spend to epsilon {epsilon:.4g} "
                f"(rho {rho:.4g}, delta {self.delta:.3g}), over the budget's epsilon {self.epsilon:g}; "
                f"already spent: epsilon {self.epsilon_spent:.4g}. Nothing was released."
            )


def ledger_markdown(document: dict) -> str:
    """A ledger's `to_dict()` as a Markdown table (used by the dataset card and the report)."""
    budget, spent = document["budget"], document["spent"]
    lines = [
        f"Budget: epsilon {budget['epsilon']:g}, delta {budget['delta']:.3g}. Spent: epsilon "
        f"{spent['epsilon']:.4f} (rho {spent['rho']:.5f}; delta spent directly {spent['delta_spent_directly']:.3g}). "
        "Accounting: " + document["accounting"] + ".",
        "",
        "| stage | step | mechanism | rho | delta | epsilon share |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for entry in document["entries"]:
        lines.append(
            f"| {entry['stage']} | {markdown_text(entry['step'])} | {entry['mechanism']} | {entry['rho']:.5f} | "
            f"{entry['delta']:.3g} | {entry['epsilon_share']:.4f} |"
        )
    for stage, totals in document["by_stage"].items():
        lines.append(f"| **{stage}** | all | | {totals['rho']:.5f} | {totals['delta']:.3g} | "
                     f"{totals['epsilon_share']:.4f} |")
    if document.get("notes"):
        lines += ["", *[f"- {markdown_text(note)}" for note in document["notes"]]]
    return "\n".join(lines)


def _check_budget(epsilon, delta) -> None:
    for name, value in (("epsilon", epsilon), ("delta", delta)):
        if value is None:
            raise ParameterError(
                f"{name} is required: a differentially private release needs an explicit privacy budget "
                "(for example epsilon=1.0, delta=1e-6; delta should be well below 1/rows)"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ParameterError(f"{name} must be a finite number, got {value!r}")
    if epsilon <= 0:
        raise ParameterError(f"epsilon must be positive, got {epsilon}")
    if not 0 < delta < 1:
        raise ParameterError(f"delta must lie strictly between 0 and 1 (well below 1/rows), got {delta}")
