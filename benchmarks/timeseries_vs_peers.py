"""Perpetuum's time-series model against the baselines a quant tries first and two learned generators, on real
daily series (S&P 500 and NASDAQ 1999–2018, shipped inside the `arch` wheel).

    python benchmarks/timeseries_vs_peers.py --quick          # 50 paths, short peer training: minutes
    python benchmarks/timeseries_vs_peers.py                  # 200 paths, longer peer training
    python benchmarks/timeseries_vs_peers.py --methods perpetuum perpetuum-no-level garch-t bootstrap
                                                              # without the peers (DGAN, PAR)

Methods, each fitted on the whole series of daily log returns and asked for paths as long as it:
- perpetuum: `GarchFHS()` as shipped (APARCH(1,1) by Gaussian QMLE on the returns over their slow volatility level,
  a 250-day root mean square whose paths are phase-randomised surrogates; residuals redrawn by a stationary
  bootstrap with mean block 10 days); perpetuum-no-level: the same without the slow level (the default before
  it); perpetuum-gjr and perpetuum-egarch: the default with GJR-GARCH(1,1) and EGARCH(1,1) (the default is chosen
  on these figures).
- garch-t: GARCH(1,1) with Student-t innovations fitted by `arch`, simulated with t draws (500 days of burn-in).
- bootstrap: the real returns themselves, redrawn by a stationary bootstrap (mean block 10 days, as Perpetuum's).
- dgan / par: Gretel's DGAN and SDV's PARSynthesizer, each in its own environment (benchmarks/
  setup_timeseries_peers.sh) via benchmarks/timeseries_peer_run.py: trained on 250-day windows of the series
  (percent returns), paths are generated windows laid end to end. Where a peer cannot run, the reason is recorded.
  PAR samples one day at a time (about 6 s per 250-day sequence on this machine), so it is asked for --par-paths
  paths (3 by default: 63 sequences), the others for --paths.

Scores: each stylized fact (benchmarks use `perpetuum.timeseries.stylized_facts`) as the median over paths against
the real value's 95 % block-bootstrap interval; the discriminative score (1 − (2·AUC − 1) of a gradient-boosting
classifier on features of 20-day windows, 1 = cannot tell apart), averaged over 3 classifier seeds; VaR/ES error
(mean relative error of VaR and ES at 95 and 99 %); verbatim windows (share of synthetic 20-day windows that occur
unchanged in the real series: copies) and near copies (share closer to some real window than 0.2 of their own
volatility, root-mean-square: replays of history; real windows score 0 against the rest of the real series, `perpetuum.timeseries.discrimination.near_copy_share`, first 5 paths); fit and sample seconds (wall clock; on a shared machine they are taken under
load). Perpetuum's shock scenarios ("drawdown=-35%,days=30", 1,000 paths) report their hit rate within 10 %.
Results: tables printed, and benchmarks/results/timeseries_vs_peers.json (timeseries_vs_peers_quick.json with
--quick), written after each dataset; a run on some datasets replaces those and keeps the others.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from perpetuum.timeseries.data import builtin_series, read_series  # noqa: E402
from perpetuum.timeseries.discrimination import discriminative_score, near_copy_share  # noqa: E402
from perpetuum.timeseries.model import GarchFHS, stationary_bootstrap_indices  # noqa: E402
from perpetuum.timeseries.scenarios import parse_shock, shock_scenarios, window_variants  # noqa: E402
from perpetuum.timeseries.stylized_facts import RISK_KEYS, compare_facts  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
DATASETS = ["sp500", "nasdaq"]
METHODS = ["perpetuum", "perpetuum-no-level", "perpetuum-gjr", "perpetuum-egarch", "garch-t", "bootstrap", "dgan",
           "par"]
# Perpetuum's variants: settings that differ from the default GarchFHS()
PERPETUUM_SETTINGS = {"perpetuum": {}, "perpetuum-no-level": {"level_window": None},
                      "perpetuum-gjr": {"volatility": "gjr"}, "perpetuum-egarch": {"volatility": "egarch"}}
PEER_PYTHON = {"dgan": REPO / ".venv-timeseries-dgan" / "bin" / "python",
               "par": REPO / ".venv-timeseries-par" / "bin" / "python"}
SHOCK = "drawdown=-35%,days=30"
WINDOW = ("2008-09-01", "2009-03-31")
COPY_WINDOW = 20
MEAN_BLOCK = GarchFHS().mean_block  # the bootstrap baseline uses the same mean block as Perpetuum


def garch_t_paths(returns: np.ndarray, n: int, seed: int) -> np.ndarray:
    from arch import arch_model

    result = arch_model(100 * returns, vol="GARCH", p=1, q=1, dist="t", rescale=False).fit(disp="off")
    mu, omega, alpha, beta, nu = (float(result.params[key]) for key in ("mu", "omega", "alpha[1]", "beta[1]", "nu"))
    rng = np.random.default_rng(seed)
    burn, length = 500, len(returns)
    shocks = rng.standard_t(nu, size=(n, burn + length)) * np.sqrt((nu - 2) / nu)
    sigma2 = np.full(n, omega / max(1e-6, 1 - alpha - beta))
    out = np.empty((n, burn + length))
    for step in range(burn + length):
        epsilon = np.sqrt(sigma2) * shocks[:, step]
        out[:, step] = mu + epsilon
        sigma2 = omega + alpha * epsilon**2 + beta * sigma2
    return out[:, burn:] / 100


def bootstrap_paths(returns: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return returns[stationary_bootstrap_indices(len(returns), n, len(returns), MEAN_BLOCK, rng)]


def peer_paths(peer: str, returns: np.ndarray, n: int, epochs: int, stride: int, seed: int):
    python = PEER_PYTHON[peer]
    if not python.exists():
        return None, {"error": f"{python.relative_to(REPO)} is missing: run benchmarks/setup_timeseries_peers.sh"}
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "real.npz", Path(folder) / "paths.npz"
        np.savez(source, returns=returns)
        command = [str(python), str(Path(__file__).with_name("timeseries_peer_run.py")), peer, str(source),
                   str(target), "--paths", str(n), "--epochs", str(epochs), "--stride", str(stride),
                   "--seed", str(seed)]
        environment = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONWARNINGS": "ignore"}
        completed = subprocess.run(command, capture_output=True, text=True, env=environment)
        if completed.returncode != 0:
            return None, {"error": f"{peer} exited with {completed.returncode}: "
                                   + completed.stderr.strip().splitlines()[-1][:400] if completed.stderr.strip()
                          else "no message"}
        info = json.loads(completed.stdout.strip().splitlines()[-1])
        return np.load(target)["paths"], info


def verbatim_share(real: np.ndarray, paths: np.ndarray) -> float:
    """Share of synthetic 20-day windows (one every 20 days) found unchanged anywhere in the real series."""
    real_windows = {np.round(real[start: start + COPY_WINDOW], 12).tobytes()
                    for start in range(len(real) - COPY_WINDOW + 1)}
    found = total = 0
    for path in paths:
        for start in range(0, paths.shape[1] - COPY_WINDOW + 1, COPY_WINDOW):
            total += 1
            found += np.round(path[start: start + COPY_WINDOW], 12).tobytes() in real_windows
    return found / max(total, 1)


def measure(real: np.ndarray, paths: np.ndarray) -> dict:
    facts = compare_facts(real, paths, replicates=300)
    scores = [discriminative_score(real, paths, window=COPY_WINDOW, seed=seed) for seed in range(3)]
    risk_errors = [abs(row["synthetic"] / row["real"] - 1.0) for row in facts if row["key"] in RISK_KEYS]
    return {
        "facts": facts,
        "facts_inside": int(sum(row["inside"] for row in facts)),
        "facts_total": len(facts),
        "discriminative_score": float(np.mean([item["score"] for item in scores])),
        "discriminative_auc": float(np.mean([item["auc"] for item in scores])),
        "var_es_error": float(np.mean(risk_errors)),
        "verbatim_windows": verbatim_share(real, paths),
        "near_copy_windows": near_copy_share(real, paths, window=COPY_WINDOW),
    }


def run_method(method: str, data, real: np.ndarray, n: int, args) -> dict:
    started = time.perf_counter()
    if method in PERPETUUM_SETTINGS:
        model = GarchFHS(**PERPETUUM_SETTINGS[method], seed=args.seed).fit(data)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        paths = model.sample(n, len(real))[:, :, 0]
        entry = {"fit_s": fit_s, "sample_s": time.perf_counter() - started,
                 "settings": {"volatility": model.volatility, "mean_block": model.mean_block,
                              "level_window": model.level_window if model.uses_level() else None}}
    elif method == "garch-t":
        paths = garch_t_paths(real, n, args.seed)
        entry = {"fit_s": None, "sample_s": None, "fit_and_sample_s": time.perf_counter() - started,
                 "settings": {"model": "GARCH(1,1), Student t", "burn_in": 500}}
    elif method == "bootstrap":
        paths = bootstrap_paths(real, n, args.seed)
        entry = {"fit_s": 0.0, "sample_s": time.perf_counter() - started,
                 "settings": {"mean_block": MEAN_BLOCK}}
    else:
        epochs = args.dgan_epochs if method == "dgan" else args.par_epochs
        # PAR samples one day at a time in Python (about 6 s per 250-day sequence here): it gets fewer paths.
        count = n if method == "dgan" else min(n, args.par_paths)
        paths, info = peer_paths(method, real, count, epochs, args.peer_stride, args.seed)
        if paths is None:
            return {"error": info["error"]}
        entry = {"fit_s": info.pop("fit_s"), "sample_s": info.pop("sample_s"), "settings": info}
    if entry.get("fit_s") is not None and entry.get("sample_s") is not None:
        entry["fit_and_sample_s"] = entry["fit_s"] + entry["sample_s"]
    if not np.all(np.isfinite(paths)):
        return {**entry, "error": "the paths hold NaN or infinite returns"}
    return {**entry, **measure(real, paths)}


def perpetuum_scenarios(data, seed: int) -> dict:
    model = GarchFHS(seed=seed).fit(data)
    started = time.perf_counter()
    scenarios = shock_scenarios(model, parse_shock(SHOCK), 1000, seed=seed)
    seconds = time.perf_counter() - started
    summary = scenarios.summary
    variants = window_variants(model, *WINDOW, 200, seed=seed).summary
    return {"shock": SHOCK, "paths": 1000, "seconds": seconds, "hit_rate": summary["hit_rate"],
            "factor": summary["factor"], "profile": summary["profile"],
            "episodes": [{key: episode[key] for key in ("start", "end", "drawdown", "profile")}
                         for episode in summary["episodes"]],
            "window_variants": variants}


def fmt(value, spec=".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def print_tables(dataset: str, results: dict, scenario: dict) -> None:
    print(f"\n== {dataset} ==")
    print(f"{'method':<18}{'facts in':>9}{'discrim.':>10}{'AUC':>7}{'VaR/ES err':>12}{'verbatim':>10}{'near copy':>11}"
          f"{'fit+sample s':>14}")
    for method, entry in results.items():
        if "error" in entry:
            print(f"{method:<18} not run: {entry['error']}")
            continue
        print(f"{method:<18}{entry['facts_inside']:>5}/{entry['facts_total']:<3}{entry['discriminative_score']:>10.3f}"
              f"{entry['discriminative_auc']:>7.3f}{entry['var_es_error']:>12.1%}{entry['verbatim_windows']:>10.1%}"
              f"{entry['near_copy_windows']:>11.1%}"
              f"{fmt(entry.get('fit_and_sample_s'), '.1f'):>14}")
    measured = {method: entry for method, entry in results.items() if "error" not in entry}
    if measured:
        first = next(iter(measured.values()))["facts"]
        print(f"\n{'fact':<20}{'real':>8}{'interval':>18}" + "".join(f"{method[:12]:>13}" for method in measured))
        for index, row in enumerate(first):
            cells = []
            for entry in measured.values():
                fact = entry["facts"][index]
                cells.append(f"{fact['synthetic']:>12.3f}{' ' if fact['inside'] else '*'}")
            print(f"{row['label']:<20}{row['real']:>8.3f}{row['low']:>9.3f}..{row['high']:<7.3f}" + "".join(cells))
        print("(* outside the real 95 % interval)")
    print(f"\nshock {scenario['shock']}: hit rate {scenario['hit_rate']:.1%} of {scenario['paths']} paths within 10 %; "
          f"factor median {scenario['factor']['median']:.2f}; volatility during/before "
          f"{scenario['profile']['ratio_during']:.2f}, 60 days after {scenario['profile']['ratio_after']:.2f}, "
          f"60-250 days after {scenario['profile']['ratio_later']:.2f}")
    for episode in scenario["episodes"]:
        profile = episode["profile"]
        print(f"  real {episode['start']}..{episode['end']} {episode['drawdown']:.1%}: during/before "
              f"{fmt(profile['ratio_during'], '.2f')}, after {fmt(profile['ratio_after'], '.2f')}, later "
              f"{fmt(profile['ratio_later'], '.2f')}")
    variants = scenario["window_variants"]
    print(f"variants of {variants['window']['start']}..{variants['window']['end']}: drawdown median "
          f"{variants['drawdown']['median']:.1%} (real {variants['real_drawdown']:.1%}), correlation with the real days "
          f"{variants['correlation_with_real']['median']:.3f}, nearest-real-window distance median "
          f"{variants['nearest_real_window']['variants']['median']:.3f} (real windows among themselves "
          f"{variants['nearest_real_window']['real_windows']['median']:.3f})")


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 paths, 30 DGAN epochs, 10 PAR epochs")
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--paths", type=int, default=None)
    parser.add_argument("--dgan-epochs", type=int, default=None)
    parser.add_argument("--par-epochs", type=int, default=None)
    parser.add_argument("--par-paths", type=int, default=3, help="paths asked of PAR (its sampling is slow)")
    parser.add_argument("--peer-stride", type=int, default=50, help="days between the starts of training windows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON to write (default: benchmarks/results/timeseries_vs_peers[_quick].json)")
    args = parser.parse_args()
    n = args.paths or (50 if args.quick else 200)
    args.dgan_epochs = args.dgan_epochs or (30 if args.quick else 100)
    args.par_epochs = args.par_epochs or (10 if args.quick else 64)
    warnings.filterwarnings("ignore")
    settings = {"quick": args.quick, "paths": n, "par_paths": args.par_paths, "seed": args.seed,
                "dgan_epochs": args.dgan_epochs, "par_epochs": args.par_epochs, "peer_stride": args.peer_stride}
    output = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "timings_note": "wall-clock seconds; see each dataset's load_average_at_start (below 1: an idle "
                              "machine; above: other work shared the cores, so seconds compare within one run only)",
              "datasets": {}}
    path = args.output or RESULTS / ("timeseries_vs_peers_quick.json" if args.quick else "timeseries_vs_peers.json")
    if path.exists():  # a run on some datasets updates those and keeps the others
        output["datasets"] = json.loads(path.read_text(encoding="utf-8")).get("datasets", {})
    for dataset in args.datasets:
        frame = builtin_series(dataset)
        data = read_series(frame, time="Date", values=frame.columns[1])
        real = data.returns["all"][:, 0]
        results = {}
        load_at_start = [round(value, 2) for value in os.getloadavg()]
        for method in args.methods:
            print(f"{dataset}: {method} ...", file=sys.stderr, flush=True)
            results[method] = run_method(method, data, real, n, args)
        scenario = perpetuum_scenarios(data, args.seed)
        output["datasets"][dataset] = {"days": int(len(real)), "settings": settings, "methods": results,
                                       "scenario": scenario, "load_average_at_start": load_at_start,
                                       "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        print_tables(dataset, results, scenario)
        path.write_text(json.dumps(_plain(output), indent=1), encoding="utf-8")
    print(f"\nResults: {path}. Load average at the end: {os.getloadavg()[0]:.2f} (fit and sample "
          "seconds are comparable across runs only on an idle machine).")


if __name__ == "__main__":
    main()
