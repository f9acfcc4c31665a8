"""The public tables that benchmarks/tabular_vs_peers.py runs on, each with the class column its TSTR score predicts.

All of them load offline: Adult from the shared datasets folder, the others from packages of the test extra.
Besides Adult they are tables whose numeric columns are strongly correlated, the shape that a synthesizer with
independent columns inside its leaves flattens (issue 18):
- sp500: S&P 500 daily prices 1999-2018 from the `arch` package (open, high, low correlated at r > 0.99) with the
  day's direction (close at or above open) as the class; close and adjusted close are left out, as they would
  give the class away;
- macrodata: US quarterly national accounts 1959-2009 from `statsmodels` (real GDP, consumption, income, prices
  and population at r 0.9-0.99), the class being unemployment at or above 6 %; year and quarter are left out;
- breast_cancer: the Wisconsin diagnostic table shipped with scikit-learn (radius, perimeter and area of the cell
  nuclei at r 0.99), the class being the diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

ADULT_CSV = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "adult" / "adult.csv"


@dataclass(frozen=True)
class BenchmarkTable:
    load: Callable[[], pd.DataFrame]
    target: str
    description: str


def load_adult(path: Path = ADULT_CSV) -> pd.DataFrame:
    return pd.read_csv(path)


def load_sp500() -> pd.DataFrame:
    from arch.data import sp500

    prices = sp500.load().reset_index(drop=True)
    prices["direction"] = np.where(prices["Close"] >= prices["Open"], "up", "down")
    return prices[["Open", "High", "Low", "Volume", "direction"]]


def load_macrodata() -> pd.DataFrame:
    from statsmodels.datasets import macrodata

    data = macrodata.load_pandas().data.drop(columns=["year", "quarter"])
    data["unemployment"] = np.where(data.pop("unemp") >= 6, "high", "low")
    return data


def load_breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer as load

    bunch = load(as_frame=True)
    data = bunch.data.copy()
    data["diagnosis"] = np.where(bunch.target == 1, "benign", "malignant")
    return data


TABLES = {
    "adult": BenchmarkTable(load_adult, "income", "Adult census income, 32,561 rows"),
    "sp500": BenchmarkTable(load_sp500, "direction", "S&P 500 daily prices (arch), 5,031 rows"),
    "macrodata": BenchmarkTable(load_macrodata, "unemployment", "US national accounts (statsmodels), 203 rows"),
    "breast_cancer": BenchmarkTable(
        load_breast_cancer, "diagnosis", "Wisconsin breast cancer (scikit-learn), 569 rows"
    ),
}
