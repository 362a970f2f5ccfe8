"""`predict_with_app`: predictions from a packaged app in this process (no server, no torch).

It loads the app's own `inference.py`, the code its server runs, so `etb predict` answers
exactly what the server would.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from etbuilder.errors import RunError


def _inference_module(app_dir: Path) -> ModuleType:
    path = app_dir / "inference.py"
    if not (path.is_file() and (app_dir / "manifest.json").is_file()):
        raise RunError(
            f"{app_dir} is not an app folder (no inference.py and manifest.json)\n"
            "    hint: pass the `app` folder inside a run, or build one with `etb package RUN`"
        )
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
    name = f"_etb_app_inference_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=4)
def load_predictor(app_dir: str, model_file: str | None = None) -> Any:
    """The app's Predictor (cached per folder and model file)."""
    folder = Path(app_dir).resolve()
    return _inference_module(folder).Predictor(folder, model_file=model_file)


def predict_with_app(
    app_dir: str | Path, inputs: list[Any], *, model_file: str | None = None
) -> list[dict[str, Any]]:
    """One prediction per input (texts, or `[a, b]` pairs for pair tasks), in input order.

    model_file: e.g. `onnx/model.onnx` to force fp32; default: the model the app serves.
    Bad inputs raise RunError with the same message the server would answer.
    """
    predictor = load_predictor(str(Path(app_dir).resolve()), model_file)
    limits = predictor.manifest["inputs"]
    try:
        checked = predictor.check(list(inputs), len(inputs) or 1, int(limits["max_text_chars"]))
    except ValueError as exc:
        raise RunError(f"cannot predict: {exc}") from None
    results: list[dict[str, Any]] = []
    for start in range(0, len(checked), 256):
        results.extend(predictor.predict(checked[start : start + 256]))
    return results
