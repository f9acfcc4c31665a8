"""Differentially private synthesizers (`dp-aim`, `dp-mst`): marginal-based mechanisms through OpenDP.

They need the optional extra `pip install 'perpetuum[dp]'` (OpenDP with Private-PGM); the classes register either
way, and `fit` says how to install the extra when it is missing.
"""

from perpetuum.tabular.dp.synthesizers import DPAIM, DPMST, MarginalSynthesizer

__all__ = ["DPAIM", "DPMST", "MarginalSynthesizer"]
