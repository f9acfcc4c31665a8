"""Data sets shipped inside the package, so the demo and the tests run with no download."""

from __future__ import annotations

from importlib import resources

import pandas as pd

ATTRIBUTION = (
    "UCI Adult (Census Income): Barry Becker and Ronny Kohavi (1996), Adult [Dataset], "
    "UCI Machine Learning Repository, https://doi.org/10.24432/C5XW20, licensed CC BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/). Changed: whitespace stripped, '?' written as missing, "
    "header added with the target named 'income', gzip-compressed."
)

__all__ = ["ATTRIBUTION", "load_adult"]


def load_adult() -> pd.DataFrame:
    """The UCI Adult training table: 32,561 rows x 15 columns, target column `income` ('<=50K' / '>50K').

    Unknown values of `workclass`, `occupation` and `native-country` are missing (NaN). See `ATTRIBUTION`.
    """
    with resources.files(__package__).joinpath("adult.csv.gz").open("rb") as handle:
        return pd.read_csv(handle, compression="gzip")
