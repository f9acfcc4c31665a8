"""Declarative LLM dataset pipelines: a spec of named columns, run in dependency order, resumable after a crash.

    from perpetuum.pipeline import generate, load_spec, preview

    spec = load_spec("examples/specs/tiny_stories.yaml")
    preview(spec, n=3)                                   # a look at three records, nothing written
    result = generate(spec, n=200, output_dir="out/")    # data.jsonl, data.parquet, card.json, card.md, ...
    result = generate(spec, n=200, output_dir="out/", resume=True)   # after a crash: same records, none twice
    guess = estimate(spec, n=100_000)                    # tokens, dollars, time, drops from a pilot of 8 records
    result = generate(spec, n=5000, output_dir="out/", budget={"usd": 20})   # stops before crossing the limit

Modules: `spec` (models, YAML, validation), `spec_sources` (named specs such as `recipe:NAME`), `columns/` (one
module per column kind, and the validator kinds), `executor` (concurrency, retries, failure records), `checkpoint`
(JSONL shards + SQLite state), `filters` (judge/validator filters, dedup), `output` (JSONL, Parquet, Hugging Face
datasets), `run` (generate / preview), `record_executors` (where records are made: here, or elsewhere found by
name, such as "ray"); a run's economics: `estimate`, `budget`, `call_gate` (cache then budget, for
every model call), `economics` (the gate of a session and what it spent), `monitors` (live quality signals) and
`run_progress`. A run's dataset card is built by `perpetuum.card`.
"""

from perpetuum.pipeline.columns import ColumnRunner, register_column_kind
from perpetuum.pipeline.columns.validators import (
    ValidationOutcome,
    Validator,
    available_validators,
    register_validator,
)
from perpetuum.pipeline.estimate import RunEstimate, aestimate, estimate
from perpetuum.pipeline.run import GenerationResult, agenerate, apreview, generate, preview
from perpetuum.pipeline.spec import DatasetSpec, SpecError, load_spec

__all__ = [
    "ColumnRunner",
    "DatasetSpec",
    "GenerationResult",
    "RunEstimate",
    "SpecError",
    "ValidationOutcome",
    "Validator",
    "aestimate",
    "agenerate",
    "apreview",
    "available_validators",
    "estimate",
    "generate",
    "load_spec",
    "preview",
    "register_column_kind",
    "register_validator",
]
