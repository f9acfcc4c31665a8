"""The model-collapse lab and guard.

The lab trains generation after generation on its predecessors' output and measures what is lost (Shumailov et
al., Nature 2024), under strategies that keep or drop the real data (Gerstgrasser et al., 2024):

    from perpetuum.collapse import get_generator, run_experiment, gaussian_lab
    result = gaussian_lab(generations=100, n=100, repeats=200)      # the paper's 1-D toy, in seconds
    print(result.table(["variance_ratio", "tail_mass"]))
    result.to_json("collapse.json"); result.to_html("collapse.html")

The guard that every dataset card carries (lineage and collapse signals) lives in `perpetuum.card`.
"""

from perpetuum.collapse.experiment import derived_seed, run_experiment
from perpetuum.collapse.generators import available_generators, get_generator, register_generator
from perpetuum.collapse.labs import gaussian_lab
from perpetuum.collapse.results import CollapseResult
from perpetuum.collapse.strategies import Strategy, parse_strategies, parse_strategy

__all__ = ["run_experiment", "derived_seed", "get_generator", "register_generator", "available_generators",
           "gaussian_lab", "CollapseResult", "Strategy", "parse_strategy", "parse_strategies"]
