"""Perpetuum: make training data instead of buying it.

The package root stays light on purpose (the `perpetuum` command starts fast); import the parts you use:
`perpetuum.schema` (read and describe tables), `perpetuum.tabular` (synthesizers), `perpetuum.evaluate` (metrics),
`perpetuum.workflow` (synthesize a table file in one call), `perpetuum.card` (dataset cards), `perpetuum.pipeline`
(LLM datasets from specs), `perpetuum.datasets` (tables shipped with the package), `perpetuum.demo` (the demo).
The README's "Architecture" section shows how the packages layer.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("perpetuum")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
