"""How wide should the slow volatility level's window be? The stylized facts of GarchFHS's paths for each window.

    python benchmarks/timeseries_level_window.py            # about 5 minutes on 2 cores

The default model divides the returns by their slow level (perpetuum.timeseries.slow_level: the root mean square
over a centred window) before its APARCH recursion models them, and draws new paths of that level as
phase-randomised surrogates. For each window (and without a level, the model before it), on the S&P 500 and NASDAQ
1999-2018 from `arch`: how many of the 15 stylized facts fall inside the real 95 % block-bootstrap interval, over
sampling seeds 0-4 with 200 paths each, which facts miss, and the medians of the facts that decide it (the
autocorrelation of |r| at 5 and 50 days, the worst day). One more row, `500, random amplitudes`, draws the level's
surrogates with Rayleigh amplitudes as well as random phases (a Gaussian process with the same autocovariance, as
in Davies and Harte's method) instead of the data's own amplitudes. Writes
benchmarks/results/timeseries_level_window.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from perpetuum.timeseries.data import builtin_series, read_series  # noqa: E402
from perpetuum.timeseries.model import GarchFHS  # noqa: E402
from perpetuum.timeseries.slow_level import LevelPaths  # noqa: E402
from perpetuum.timeseries.stylized_facts import compare_facts  # noqa: E402

WINDOWS = [None, 250, 375, 500, 750, 1000]
WATCHED = ("acf_abs_5", "acf_abs_50", "worst_day")


class RandomAmplitudeLevels(LevelPaths):
    """Surrogates whose every frequency also gets a random (Rayleigh) amplitude: a stationary Gaussian process with
    the data's circular autocovariance, so a path's own level variation is random instead of the data's."""

    def frequency_weights(self, n, rng):
        amplitudes = np.sqrt(rng.exponential(size=(n, len(self.spectrum))))  # |complex normal| with E|w|^2 = 1
        return super().frequency_weights(n, rng) * amplitudes


class RandomAmplitudeModel(GarchFHS):
    def draw_slow_levels(self, n, length, rng, series_id=None, start=None):
        series_id = self._series(series_id)
        levels = self.slow_levels_[series_id]
        return RandomAmplitudeLevels(levels).sample(n, length, rng, start=levels[-1 if start is None else start])


def evaluate(model: GarchFHS, real: np.ndarray, seeds: list[int], paths: int) -> dict:
    runs = []
    for seed in seeds:
        rows = {row["key"]: row for row in compare_facts(real, model.sample(paths, seed=seed)[:, :, 0],
                                                         replicates=300)}
        runs.append({"seed": seed, "inside": sum(row["inside"] for row in rows.values()), "total": len(rows),
                     "missed": [key for key, row in rows.items() if not row["inside"]],
                     **{key: rows[key]["synthetic"] for key in WATCHED},
                     "intervals": {key: [rows[key]["low"], rows[key]["high"]] for key in WATCHED}})
    return {"all_inside": sum(run["inside"] == run["total"] for run in runs), "runs": runs,
            **{f"median_{key}": float(np.median([run[key] for run in runs])) for key in WATCHED}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["sp500", "nasdaq"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--paths", type=int, default=200)
    options = parser.parse_args()
    started, load = time.perf_counter(), round(os.getloadavg()[0], 2)
    results = {}
    for dataset in options.datasets:
        data = read_series(builtin_series(dataset), time="Date", values="Adj Close")
        real = data.returns["all"][:, 0]
        results[dataset] = {"real": {key: row["real"] for key, row in
                                     ((row["key"], row) for row in compare_facts(real, real[None], replicates=300))
                                     if key in WATCHED}}
        variants = [(str(window), GarchFHS(level_window=window)) for window in WINDOWS]
        variants.append(("500, random amplitudes", RandomAmplitudeModel(level_window=500)))
        for name, model in variants:
            print(f"{dataset}: window {name} ...", file=sys.stderr, flush=True)
            results[dataset][name] = evaluate(model.fit(data), real, options.seeds, options.paths)
    print(f"\n{'series':<8} {'window':<24} {'all inside':>10} {'ACF|r| 5':>9} {'ACF|r| 50':>10} {'worst day':>10}  "
          "missed (per seed)")
    for dataset, entries in results.items():
        real = entries["real"]
        print(f"{dataset:<8} {'real':<24} {'':>10} {real['acf_abs_5']:>9.3f} {real['acf_abs_50']:>10.3f} "
              f"{real['worst_day']:>10.3f}")
        for name, entry in entries.items():
            if name == "real":
                continue
            missed = " | ".join(", ".join(run["missed"]) or "-" for run in entry["runs"])
            print(f"{dataset:<8} {name:<24} {entry['all_inside']:>6}/{len(options.seeds):<3} "
                  f"{entry['median_acf_abs_5']:>9.3f} {entry['median_acf_abs_50']:>10.3f} "
                  f"{entry['median_worst_day']:>10.3f}  {missed}")
    output = ROOT / "benchmarks" / "results" / "timeseries_level_window.json"
    seconds = round(time.perf_counter() - started, 1)
    output.write_text(json.dumps({"benchmark": "timeseries_level_window", "paths": options.paths,
                                  "seeds": options.seeds, "seconds": seconds, "load_average_at_start": load,
                                  "results": results}, indent=1))
    print(f"\n{seconds:.0f} s (load average at the start {load}); {output}")


if __name__ == "__main__":
    main()
