"""Privacy filters and personal-identifier replacement, measured.

    /work/main/.venv/bin/python benchmarks/privacy_filters.py            # Adult + the bank-like table
    /work/main/.venv/bin/python benchmarks/privacy_filters.py --quick    # 8,000 Adult rows

Adult (the shipped table): split 80/20 (seeded, as `perpetuum synthesize` does), the `quality` synthesizer fitted
on the 80 %, as many rows sampled as it was trained on, without and with the default privacy filters
(`SimilarityFilter` + `OutlierFilter`, `sample_filtered`). Scored with `perpetuum.evaluate` on the same split:
exact copies, DCR share, membership-inference AUC, Column Shapes, Column Pair Trends.

Bank-like table (tests/test_privacy_pii.bank_table: Faker-made surnames, e-mails, phones, IBANs, ..., fixed seed):
the share of synthetic rows carrying a real training surname, and the DCR share over the non-identifier columns
plus Surname, with Surname modelled as a category (PII detection switched off in the schema) and replaced.

Prints a table; writes benchmarks/results/privacy_filters.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from perpetuum.datasets import load_adult  # noqa: E402
from perpetuum.evaluate.attacks import membership_inference  # noqa: E402
from perpetuum.evaluate.fidelity import column_pair_trends, column_shapes  # noqa: E402
from perpetuum.evaluate.privacy import dcr_share, exact_copies  # noqa: E402
from perpetuum.privacy.filters import OutlierFilter, SimilarityFilter, sample_filtered  # noqa: E402
from perpetuum.schema import infer_schema  # noqa: E402
from perpetuum.tabular import get_synthesizer  # noqa: E402
from perpetuum.workflow import split_holdout  # noqa: E402


def scores(train, synthetic, holdout, seed: int) -> dict:
    return {
        "exact_copies": exact_copies(train, synthetic)["copies"],
        "dcr_share": dcr_share(train, synthetic, holdout, seed=seed)["share"],
        "membership_inference_auc": membership_inference(train, synthetic, holdout, seed=seed)["auc"],
        "shapes": column_shapes(train, synthetic)["score"],
        "trends": column_pair_trends(train, synthetic)["score"],
    }


def adult_run(rows: int | None, seed: int) -> dict:
    table = load_adult()
    if rows:
        table = table.sample(rows, random_state=seed).reset_index(drop=True)
    train, holdout = split_holdout(table, 0.2, seed)
    started = time.perf_counter()
    model = get_synthesizer("quality")(seed=seed).fit(train)
    fit_seconds = time.perf_counter() - started
    plain = model.sample(len(train), seed=seed)
    started = time.perf_counter()
    filters = [SimilarityFilter().fit(train), OutlierFilter().fit(train)]
    filtered, summary = sample_filtered(model, len(train), filters, seed=seed)
    filter_seconds = time.perf_counter() - started
    return {
        "rows_train": len(train), "rows_holdout": len(holdout), "fit_seconds": fit_seconds,
        "filter_seconds": filter_seconds,
        "removed": summary["removed"], "sampled": summary["sampled"], "rounds": summary["rounds"],
        "without_filters": scores(train, plain, holdout, seed),
        "with_filters": scores(train, filtered, holdout, seed),
    }


def bank_run(rows: int, seed: int) -> dict:
    from tests.test_privacy_pii import bank_table

    table = bank_table(rows, seed)
    train, holdout = split_holdout(table, 0.2, seed)
    compared = ["Surname", "Geography", "Age", "Balance"]
    result = {}
    for label, keep_pii in (("surname_modelled", False), ("surname_replaced", True)):
        schema = infer_schema(train)
        if not keep_pii:
            schema["Surname"].pii = None
        synthetic = get_synthesizer("quality")(seed=seed).fit(train, schema=schema).sample(len(train), seed=seed)
        train_only = set(train["Surname"]) - set(holdout["Surname"])
        result[label] = {
            "rows_with_a_real_surname": float(synthetic["Surname"].isin(set(train["Surname"])).mean()),
            "rows_with_a_train_only_surname": float(synthetic["Surname"].isin(train_only).mean()),
            "dcr_share_with_surname": dcr_share(train[compared], synthetic[compared], holdout[compared],
                                                seed=seed)["share"],
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8,000 Adult rows and a 2,000-row bank table")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    adult = adult_run(8_000 if args.quick else None, args.seed)
    bank = bank_run(2_000 if args.quick else 10_000, args.seed)
    print(f"Adult ({adult['rows_train']:,} train rows), quality synthesizer, seed {args.seed}")
    print(f"{'':<16} {'copies':>7} {'DCR share':>10} {'MIA AUC':>8} {'Shapes':>7} {'Trends':>7}")
    for label in ("without_filters", "with_filters"):
        entry = adult[label]
        print(f"{label:<16} {entry['exact_copies']:>7} {entry['dcr_share']:>10.4f} "
              f"{entry['membership_inference_auc']:>8.4f} {entry['shapes']:>7.4f} {entry['trends']:>7.4f}")
    print(f"removed: {adult['removed']} of {adult['sampled']:,} sampled rows in {adult['rounds']} draws")
    print("\nBank-like table: Surname")
    for label, entry in bank.items():
        print(f"{label:<18} rows with a real surname {entry['rows_with_a_real_surname']:.1%}, with a train-only "
              f"surname {entry['rows_with_a_train_only_surname']:.1%}, DCR share {entry['dcr_share_with_surname']:.4f}")
    out = ROOT / "benchmarks" / "results" / ("privacy_filters_quick.json" if args.quick else "privacy_filters.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": time.perf_counter() - started, "load_average_after": os.getloadavg(),
        "seed": args.seed, "adult": adult, "bank_like": bank,
    }, indent=2) + "\n")
    print(f"\nwritten {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
