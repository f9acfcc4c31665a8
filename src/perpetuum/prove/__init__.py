"""Does the data teach? Train small language models on a dataset's texts and score them on real data.

    from perpetuum.prove import prove_stories, write_report, read_texts
    result = prove_stories(read_texts("out/tinystories"), read_texts("real.txt"), read_texts("held.txt"))
    write_report(result, "out/tinystories/prove")          # result.json, report.html, plots/

`perpetuum prove stories|code` is the command. Needs the train extra: pip install 'perpetuum[train]'.
"""

from perpetuum.prove.code import code_estimate, prove_code, read_exercises
from perpetuum.prove.code_report import write_code_report
from perpetuum.prove.code_tasks import benchmark_tasks
from perpetuum.prove.inputs import read_texts
from perpetuum.prove.report import write_report
from perpetuum.prove.stories import ARMS, prove_stories

__all__ = ["ARMS", "benchmark_tasks", "code_estimate", "prove_code", "prove_stories", "read_exercises", "read_texts",
           "write_code_report", "write_report"]
