"""Plug-ins from another package, found through entry points: synthesizers, validator kinds, column kinds, collapse
generators and spec sources, as for LLM backends; and backend options checked when a spec loads."""

from __future__ import annotations

import sys
import textwrap

import pytest
from typer.testing import CliRunner

from perpetuum.cli import app
from perpetuum.datasets import load_adult
from perpetuum.errors import SpecError
from perpetuum.pipeline import load_spec, preview

PLUGIN = '''
from pathlib import Path

from pydantic import BaseModel

from perpetuum.collapse.generators import GaussianGenerator
from perpetuum.pipeline import ColumnRunner, ValidationOutcome, Validator
from perpetuum.tabular.copula import GaussianCopula


class Mine(GaussianCopula):
    """A third party's synthesizer (a copula under another name)."""


class EvenLength(Validator):
    def check(self, value, record):
        return ValidationOutcome(len(str(value)) % 2 == 0, f"{len(str(value))} characters")


class Shout(ColumnRunner):
    class Options(BaseModel):
        source: str
        marks: int = 1

    async def compute(self, record, context):
        return str(record[self.column.options["source"]]).upper() + "!" * self.column.options.get("marks", 1)


class Frozen(GaussianGenerator):
    pass


def team_spec(name):
    return Path(__file__).with_name(name + ".yaml")
'''

ENTRY_POINTS = '''
[perpetuum.synthesizers]
mine = perpetuum_test_plugin:Mine
[perpetuum.validators]
even_length = perpetuum_test_plugin:EvenLength
[perpetuum.column_kinds]
shout = perpetuum_test_plugin:Shout
[perpetuum.collapse_generators]
frozen = perpetuum_test_plugin:Frozen
[perpetuum.spec_sources]
team = perpetuum_test_plugin:team_spec
'''

SPEC = {
    "name": "shouting",
    "columns": [
        {"name": "animal", "kind": "sampler", "sampler": "category", "values": ["fox", "owl"]},
        {"name": "loud", "kind": "shout", "source": "animal", "marks": 2, "depends_on": ["animal"]},
        {"name": "even", "kind": "validator", "validator": "even_length", "target": "loud"},
    ],
}


@pytest.fixture()
def installed_plugin(tmp_path, monkeypatch):
    """A package installed the way pip leaves one: its module and a dist-info folder with entry_points.txt."""
    (tmp_path / "perpetuum_test_plugin.py").write_text(PLUGIN)
    info = tmp_path / "perpetuum_test_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: perpetuum-test-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "perpetuum_test_plugin", raising=False)
    yield tmp_path
    sys.modules.pop("perpetuum_test_plugin", None)
    from perpetuum.collapse.generators import GENERATORS
    from perpetuum.pipeline.columns import COLUMN_KIND_PLUGINS
    from perpetuum.pipeline.columns.validators import VALIDATORS
    from perpetuum.pipeline.spec_sources import SPEC_SOURCES
    from perpetuum.tabular.registry import SYNTHESIZERS

    for registry, name in ((SYNTHESIZERS, "mine"), (VALIDATORS, "even_length"), (COLUMN_KIND_PLUGINS, "shout"),
                           (GENERATORS, "frozen"), (SPEC_SOURCES, "team")):
        registry._classes.pop(name, None)


def test_model_reaches_a_synthesizer_from_another_package(installed_plugin, tmp_path):
    source = tmp_path / "adult.csv"
    load_adult().sample(300, random_state=0).to_csv(source, index=False)
    runner = CliRunner()
    assert "mine" in runner.invoke(app, ["models"]).output
    result = runner.invoke(app, ["synthesize", str(source), "-n", "50", "-o", str(tmp_path / "o.csv"),
                                 "--model", "mine", "--no-report", "-q"])
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "o.csv").read_text().splitlines()) == 51


def test_a_spec_uses_a_column_kind_and_a_validator_kind_from_another_package(installed_plugin):
    rows = preview(SPEC, n=4)
    assert {row["loud"] for row in rows} <= {"FOX!!", "OWL!!"}
    assert all(row["even"]["passed"] is False for row in rows)  # five characters
    with pytest.raises(SpecError, match=r"columns\[1\].*marks"):
        load_spec({**SPEC, "columns": [SPEC["columns"][0], {**SPEC["columns"][1], "marks": "many"}]})


def test_collapse_generators_and_spec_sources_come_from_entry_points_too(installed_plugin):
    from perpetuum.collapse import get_generator

    assert type(get_generator("frozen")).__name__ == "Frozen"
    (installed_plugin / "animals.yaml").write_text(
        "name: animals\ncolumns:\n  - {name: animal, kind: sampler, sampler: category, values: [fox, owl]}\n"
    )
    assert load_spec("team:animals").name == "animals"


def test_an_unknown_column_kind_lists_the_built_in_ones():
    expected = r"columns\[0\].kind: unknown column kind 'shuot'; use one of sampler, llm_text"
    with pytest.raises(SpecError, match=expected):
        load_spec({"name": "x", "columns": [{"name": "a", "kind": "shuot"}]})


# ---------------------------------------------------------------------------------------------- backend options


def _spec_with_backend(**options) -> dict:
    return {"name": "x", "backends": {"small": {"kind": "embedded", **options}},
            "columns": [{"name": "story", "kind": "llm_text", "prompt": "a story", "backend": "small"}]}


@pytest.mark.parametrize("n_ctx, why", [("big", "valid integer"), (-3, "greater than or equal to 64")])
def test_a_bad_backend_option_is_a_spec_error_naming_the_backend_and_the_key(n_ctx, why):
    with pytest.raises(SpecError, match=rf"backends\.small\.n_ctx: .*{why}.*embedded backend option"):
        load_spec(_spec_with_backend(n_ctx=n_ctx))


def test_an_unknown_backend_option_lists_the_accepted_ones():
    with pytest.raises(SpecError, match=r"backends\.small\.n_cxt: unknown option; it accepts .*n_ctx"):
        load_spec(_spec_with_backend(n_cxt=4096))


def test_good_backend_options_load():
    assert load_spec(_spec_with_backend(n_ctx=4096, n_parallel=4, n_threads=None)).backends["small"].options == {
        "n_ctx": 4096, "n_parallel": 4, "n_threads": None}
