"""The end-to-end demo on the shipped UCI Adult table: split, fit, sample, score, condition, save and reload.

`run_demo` is what `perpetuum demo` calls; it is also a compact, runnable tour of the library's API (`run.py`);
`summary.py` shows its results as a terminal table, Markdown and JSON.
"""

from perpetuum.demo.run import run_demo
from perpetuum.demo.summary import summary_table

__all__ = ["run_demo", "summary_table"]
