"""The peer library's AIM or MST (smartnoise-synth), run by benchmarks/privacy.py in the peer's own environment.

smartnoise-synth 1.0.8 needs opendp < 0.15 (through smartnoise-sql) while Perpetuum's dp-aim / dp-mst use OpenDP
0.16, so the two cannot share one environment; privacy.py starts this script with the peer's Python
(benchmarks/setup_privacy_peer.sh builds it) on the same training rows, in the same run:

    python privacy_peer_smartnoise.py MECHANISM EPSILON DELTA TRAIN.parquet OUT.parquet OUT.json
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import pandas as pd

# The columns' kinds, given as smartnoise asks for them. Continuous columns get private bounds from
# smartnoise's preprocessor (charged to epsilon); categorical and ordinal columns take their category sets from
# the data, which smartnoise does not charge to the budget.
CONTINUOUS = ["age", "fnlwgt", "capital-gain", "capital-loss", "hours-per-week"]
ORDINAL = ["education-num"]
PREPROCESSOR_SHARE = 0.1  # the same share Perpetuum's pipeline spends on numeric bounds
# The same limits as Perpetuum's dp-aim defaults. smartnoise measures every one-way marginal at 1/rounds of 90 % of
# rho before its first round, so rounds must exceed 0.9 x the column count: with 12 rounds and Adult's 15 columns
# the one-ways alone spend 112 % of rho, the budget left is negative, sigma = sqrt(1 / negative) is NaN and the
# exponential mechanism fails with "probabilities contain NaN". With 24 they spend 56 % (Perpetuum: 50 %).
AIM_SETTINGS = {"max_model_size": 10, "rounds": 24}


def main(mechanism: str, epsilon: float, delta: float, train_path: str, output_path: str, info_path: str) -> None:
    warnings.filterwarnings("ignore")
    from snsynth.aim import AIMSynthesizer
    from snsynth.mst import MSTSynthesizer

    train = pd.read_parquet(train_path)
    categorical = [column for column in train.columns if column not in CONTINUOUS + ORDINAL]
    if mechanism == "aim":
        synthesizer = AIMSynthesizer(epsilon=epsilon, delta=delta, **AIM_SETTINGS)
    elif mechanism == "mst":
        synthesizer = MSTSynthesizer(epsilon=epsilon, delta=delta)
    else:
        raise SystemExit(f"unknown mechanism {mechanism!r}; use aim or mst")
    started = time.perf_counter()
    synthesizer.fit(train, categorical_columns=categorical, ordinal_columns=ORDINAL, continuous_columns=CONTINUOUS,
                    preprocessor_eps=epsilon * PREPROCESSOR_SHARE, nullable=True)
    fitted = time.perf_counter()
    synthetic = synthesizer.sample(len(train))
    sampled = time.perf_counter()
    synthetic = synthetic[list(train.columns)]
    for column in CONTINUOUS + ORDINAL:
        synthetic[column] = pd.to_numeric(synthetic[column], errors="coerce").round()
    synthetic.to_parquet(output_path)
    with open(info_path, "w") as handle:
        json.dump({"fit_s": round(fitted - started, 2), "sample_s": round(sampled - fitted, 2),
                   "library": "smartnoise-synth", "settings": AIM_SETTINGS if mechanism == "aim" else {},
                   "preprocessor_eps": epsilon * PREPROCESSOR_SHARE}, handle)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), *sys.argv[4:7])
