"""Saving and loading fitted synthesizers as a folder of JSON + NumPy arrays.

The class to rebuild is looked up by its registered name (`perpetuum.tabular.load_synthesizer`), so this module
knows no synthesizer.

No pickle anywhere: `model.json` holds parameters, schema and column transforms; `arrays.npz` holds numeric state
and is loaded with `allow_pickle=False`, so opening a model file from someone else cannot run their code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import perpetuum
from perpetuum.errors import ModelFileError
from perpetuum.tabular.transforms import TableEncoder

FORMAT = "perpetuum-synthesizer"
FORMAT_VERSION = 1
_MODEL_FILE = "model.json"
_ARRAYS_FILE = "arrays.npz"


def save_synthesizer(synthesizer, path) -> Path:
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ModelFileError(f"{folder} exists and is not a folder; give a folder path for the model")
    folder.mkdir(parents=True, exist_ok=True)
    state, arrays = synthesizer._state()
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "perpetuum_version": getattr(perpetuum, "__version__", "unknown"),
        "synthesizer": synthesizer.name,
        "params": synthesizer.get_params(),
        "fitted": {"n_rows": synthesizer.n_rows_, "fit_seconds": synthesizer.fit_seconds_},
        "encoder": synthesizer.encoder_.to_state(),
        "state": state,
    }
    (folder / _MODEL_FILE).write_text(json.dumps(document, indent=1, default=_json_default), encoding="utf-8")
    np.savez_compressed(folder / _ARRAYS_FILE, **arrays)
    return folder


def read_model(path) -> dict:
    """The document of a saved model folder (`model.json`), checked for format; ModelFileError if it is not one."""
    folder = Path(path)
    model_file = folder / _MODEL_FILE
    if not model_file.is_file():
        raise ModelFileError(f"{folder} is not a saved Perpetuum model: {_MODEL_FILE} is missing")
    try:
        document = json.loads(model_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{model_file} is not valid JSON ({error}); the model folder is damaged") from None
    if document.get("format") != FORMAT or document.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{model_file} is not a Perpetuum synthesizer of format version {FORMAT_VERSION}; refit and save again"
        )
    return document


def restore_synthesizer(cls, document: dict, path):
    """An instance of `cls` (the class the document names) holding the fitted state saved in folder `path`."""
    folder = Path(path)
    model_file = folder / _MODEL_FILE
    try:
        return _rebuild(cls, document, folder)
    except (KeyError, TypeError, IndexError) as error:
        raise ModelFileError(
            f"{model_file} lacks or garbles the entry {error}; the model folder is damaged or was edited by hand. "
            "Refit and save again."
        ) from None


def _rebuild(cls, document: dict, folder: Path):
    synthesizer = cls(**document["params"])
    try:
        with np.load(folder / _ARRAYS_FILE, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{folder / _ARRAYS_FILE} cannot be read ({error}); the model folder is damaged") from None
    synthesizer.encoder_ = TableEncoder.from_state(document["encoder"])
    synthesizer.schema_ = synthesizer.encoder_.schema_
    synthesizer.n_rows_ = document["fitted"]["n_rows"]
    synthesizer.fit_seconds_ = document["fitted"]["fit_seconds"]
    synthesizer._rng_ = np.random.default_rng(synthesizer.seed)
    synthesizer._restore_state(document["state"], arrays)
    return synthesizer


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a model file")
