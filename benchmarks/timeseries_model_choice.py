"""How `GarchFHS`'s defaults (volatility model, mean block of the residual bootstrap) were chosen: Perpetuum's own
variants only, on the S&P 500 and NASDAQ daily series 1999-2018 shipped inside the `arch` wheel. They were chosen
before the slow volatility level existed, so the paths here are without one (level_window=None).

    python benchmarks/timeseries_model_choice.py                     # 5 sampling seeds x 50 paths: a few minutes
    python benchmarks/timeseries_model_choice.py --seeds 0 1 --blocks 10

1. Fit: each volatility model's Gaussian quasi-log-likelihood and BIC on the whole series, and its out-of-sample
   log-likelihood on the last 30 % of the days with the parameters fitted on the first 70 %.
2. Paths: for every volatility model, mean block and sampling seed, 50 paths as long as the real series: how many
   of the stylized facts have their median over paths inside the real 95 % block-bootstrap interval (and which do
   not), the discriminative score (mean over 3 classifier seeds) and the share of near-copy 20-day windows, as in
   benchmarks/timeseries_vs_peers.py. The discriminative score moves by a few hundredths from seed to seed: read
   it over seeds, not from one run.
Prints tables; writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from perpetuum.timeseries.data import builtin_series, read_series  # noqa: E402
from perpetuum.timeseries.discrimination import discriminative_score, near_copy_share  # noqa: E402
from perpetuum.timeseries.model import ARCH_NAMES, SCALE, GarchFHS  # noqa: E402
from perpetuum.timeseries.stylized_facts import FACTS, compare_facts, facts_of  # noqa: E402


def fit_scores(returns: np.ndarray, volatility: str, train_share: float = 0.7) -> dict:
    from arch import arch_model

    percent = SCALE * returns

    def specification(values: np.ndarray):
        return arch_model(values, mean="Constant", vol=ARCH_NAMES[volatility], p=1, o=1, q=1, dist="normal",
                          rescale=False)

    whole = specification(percent).fit(disp="off")
    split = int(train_share * len(percent))
    train = specification(percent[:split]).fit(disp="off")
    fixed = specification(percent).fix(train.params)
    sigma = np.asarray(fixed.conditional_volatility)[split:]
    error = percent[split:] - float(train.params["mu"])
    out_of_sample = float(np.sum(-0.5 * (np.log(2 * np.pi * sigma**2) + error**2 / sigma**2)))
    return {"loglikelihood": float(whole.loglikelihood), "bic": float(whole.bic), "oos_loglikelihood": out_of_sample,
            "params": {key: float(value) for key, value in whole.params.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["sp500", "nasdaq"])
    parser.add_argument("--volatility", nargs="+", default=list(ARCH_NAMES))
    parser.add_argument("--blocks", nargs="+", type=float, default=[5.0, 10.0, 20.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--paths", type=int, default=50)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    for dataset in args.datasets:
        frame = builtin_series(dataset)
        data = read_series(frame, time="Date", values=frame.columns[1])
        real = data.returns["all"][:, 0]
        print(f"\n== {dataset} ({len(real):,} days) ==")
        print(f"{'volatility':<10}{'log-lik':>11}{'BIC':>11}{'OOS log-lik (last 30 %)':>26}")
        for volatility in args.volatility:
            scores = fit_scores(real, volatility)
            print(f"{volatility:<10}{scores['loglikelihood']:>11.1f}{scores['bic']:>11.1f}"
                  f"{scores['oos_loglikelihood']:>26.1f}")
        intervals = None
        print(f"\n{'volatility':<10}{'block':>6}{'seed':>5}{'facts in':>10}{'discrim.':>10}{'near copy':>11}  outside")
        for volatility in args.volatility:
            for block in args.blocks:
                # as chosen: before the slow level (benchmarks/timeseries_level_window.py measures that on top)
                model = GarchFHS(volatility=volatility, mean_block=block, level_window=None).fit(data)
                for seed in args.seeds:
                    paths = model.sample(args.paths, len(real), seed=seed)[:, :, 0]
                    if intervals is None:  # the real intervals do not depend on the paths
                        intervals = {row["key"]: (row["low"], row["high"]) for row in compare_facts(real, paths)}
                    per_path = [facts_of(path) for path in paths]
                    outside = []
                    for fact in FACTS:
                        median = float(np.nanmedian([values[fact.key] for values in per_path]))
                        low, high = intervals[fact.key]
                        if not low <= median <= high:
                            outside.append(f"{fact.key} {median:.3f} [{low:.3f}, {high:.3f}]")
                    score = np.mean([discriminative_score(real, paths, seed=classifier)["score"]
                                     for classifier in range(3)])
                    print(f"{volatility:<10}{block:>6g}{seed:>5}{len(FACTS) - len(outside):>6}/{len(FACTS):<3}"
                          f"{score:>10.3f}{near_copy_share(real, paths):>11.1%}  {'; '.join(outside)}", flush=True)


if __name__ == "__main__":
    main()
