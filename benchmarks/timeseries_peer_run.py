"""One learned peer of benchmarks/timeseries_vs_peers.py, run inside its own environment (see
benchmarks/setup_timeseries_peers.sh): Gretel's DGAN or SDV's PARSynthesizer, trained on one real series of daily
log returns and asked for paths as long as the real one.

    python timeseries_peer_run.py dgan|par INPUT.npz OUTPUT.npz --paths 100 --epochs 200 --window 250 --seed 0

Both peers learn fixed-length sequences, not one endless series: the real returns are cut into windows of `window`
days (starting every `stride` days), each window one training sequence; a synthetic path is generated sequences laid
end to end until it is as long as the real series. That is how both libraries are meant to be used on a single long
series (their documentation trains on windows), and it is the cost they pay: nothing ties one generated window to
the next. Returns are multiplied by 100 (percent) before training, as is usual for both. Imports only numpy, pandas
and the peer; prints one JSON line of timings and settings.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd


def windows(returns: np.ndarray, window: int, stride: int) -> np.ndarray:
    starts = range(0, len(returns) - window + 1, stride)
    return np.stack([returns[start: start + window] for start in starts])


def run_dgan(train: np.ndarray, count: int, args) -> tuple[np.ndarray, dict]:
    import torch
    from gretel_synthetics.timeseries_dgan.config import DGANConfig
    from gretel_synthetics.timeseries_dgan.dgan import DGAN

    torch.manual_seed(args.seed)
    config = DGANConfig(max_sequence_len=train.shape[1], sample_len=args.sample_len, batch_size=min(100, len(train)),
                        epochs=args.epochs, apply_feature_scaling=True, apply_example_scaling=True,
                        cuda=False)
    model = DGAN(config)
    started = time.perf_counter()
    model.train_numpy(features=train[:, :, None])
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    _, features = model.generate_numpy(count)
    sample_s = time.perf_counter() - started
    settings = {"library": "gretel-synthetics 0.22.20 DGAN", "epochs": args.epochs, "sample_len": args.sample_len,
                "batch_size": config.batch_size, "example_scaling": True}
    return np.asarray(features)[:, :, 0], {"fit_s": fit_s, "sample_s": sample_s, **settings}


def run_par(train: np.ndarray, count: int, args) -> tuple[np.ndarray, dict]:
    import sdv
    from sdv.metadata import Metadata
    from sdv.sequential import PARSynthesizer

    table = pd.DataFrame({"sequence": np.repeat(np.arange(len(train)), train.shape[1]),
                          "day": np.tile(np.arange(train.shape[1]), len(train)), "r": train.ravel()})
    metadata = Metadata.detect_from_dataframes({"returns": table}, infer_keys=None)
    metadata.update_column("sequence", sdtype="id")
    metadata.update_column("day", sdtype="numerical")
    metadata.update_column("r", sdtype="numerical")
    metadata.set_sequence_key("sequence")
    metadata.set_sequence_index("day")
    model = PARSynthesizer(metadata, epochs=args.epochs, enforce_min_max_values=False, verbose=False, cuda=False)
    started = time.perf_counter()
    model.fit({"returns": table})  # SDV 2 takes a dict of tables, also for one table
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    sampled = model.sample_sequences(num_sequences=count, sequence_length=train.shape[1])
    if isinstance(sampled, dict):
        sampled = sampled["returns"]
    sample_s = time.perf_counter() - started
    sequences = [group.sort_values("day")["r"].to_numpy(dtype=float) for _, group in sampled.groupby("sequence")]
    length = min(len(item) for item in sequences)
    settings = {"library": f"sdv {sdv.__version__} PARSynthesizer", "epochs": args.epochs}
    return np.stack([item[:length] for item in sequences]), {"fit_s": fit_s, "sample_s": sample_s, **settings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer", choices=["dgan", "par"])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--paths", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--window", type=int, default=250)
    parser.add_argument("--stride", type=int, default=25)
    parser.add_argument("--sample-len", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    np.random.seed(args.seed)
    real = np.load(args.input)["returns"] * 100.0
    train = windows(real, args.window, args.stride)
    per_path = -(-len(real) // args.window)
    runner = run_dgan if args.peer == "dgan" else run_par
    generated, info = runner(train, args.paths * per_path, args)
    generated = generated[: args.paths * per_path]
    paths = generated.reshape(args.paths, per_path * generated.shape[1])[:, : len(real)] / 100.0
    np.savez_compressed(args.output, paths=paths)
    print(json.dumps({**info, "window": args.window, "stride": args.stride, "training_sequences": int(len(train)),
                      "paths": args.paths}))


if __name__ == "__main__":
    main()
