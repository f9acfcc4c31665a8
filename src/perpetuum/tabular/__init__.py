"""Tabular synthesizers behind one API: `fit(df)`, `sample(n, conditions)`, `rebalance`, `save`/`load`;
`oversample` / `Rebalancer` top rare classes up with synthetic rows."""

from perpetuum.tabular.base import Synthesizer
from perpetuum.tabular.conditions import Between
from perpetuum.tabular.oversample import MIN_CLASS_ROWS, oversample
from perpetuum.tabular.ratio_search import RatioChoice, choose_ratio
from perpetuum.tabular.rebalancer import Rebalancer
from perpetuum.tabular.registry import available_synthesizers, get_synthesizer, load_synthesizer, register

# importing the modules registers the built-in synthesizers
from perpetuum.tabular import arf as _arf  # noqa: E402,F401
from perpetuum.tabular import copula as _copula  # noqa: E402,F401
from perpetuum.tabular import dp as _dp  # noqa: E402,F401


__all__ = ["MIN_CLASS_ROWS", "Between", "RatioChoice", "Rebalancer", "Synthesizer", "choose_ratio", "oversample", "available_synthesizers", "get_synthesizer", "load_synthesizer", "register"]
