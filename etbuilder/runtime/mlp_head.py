"""The MLP head of `features` (Linear -> GELU -> Linear) inside a transformers task model.

A standard Hugging Face task model has a single Linear head (`classifier`), so an MLP head is
saved as the same model with `classifier.0.*` / `classifier.2.*` weights and a config entry
`etb_head: {type: mlp, module: classifier, hidden: N}`. `rebuild_head(model, folder)` turns a
model that transformers loaded from such a folder (with a fresh Linear head) back into the
trained one; loaders that build a task model from a run folder call it (`load_trained`, the
packager). It also re-installs a mean or [CLS] pooling saved as `etb_pooling`. A folder
without either is returned unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from etbuilder.errors import RunError
from etbuilder.runtime.feature_pooling import install_pooling


def mlp(fan_in: int, hidden: int, fan_out: int) -> Any:
    return nn.Sequential(nn.Linear(fan_in, hidden), nn.GELU(), nn.Linear(hidden, fan_out))


def install_mlp_head(model: Any, module: str, hidden: int) -> Any:
    """Replace the Linear head `module` of `model` by an MLP of width `hidden`; returns it."""
    linear = model.get_submodule(module)
    if not isinstance(linear, nn.Linear):
        raise RunError(
            f"strategy features: the head `{module}` of this model is a "
            f"{type(linear).__name__}, not a linear layer, so it cannot become an MLP; "
            "use `head: linear`"
        )
    head = mlp(linear.in_features, hidden, linear.out_features)
    parent_name, _, attr = module.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, head)
    model.config.etb_head = {"type": "mlp", "module": module, "hidden": hidden}
    return head


def rebuild_head(model: Any, folder: str | Path) -> Any:
    """The model with the MLP head and the pooling its folder holds (see the module docstring
    and `feature_pooling`)."""
    config = getattr(model, "config", None)
    pooling = getattr(config, "etb_pooling", None)
    if pooling is not None:
        install_pooling(model, str(pooling))
    spec = getattr(config, "etb_head", None)
    if not isinstance(spec, dict) or spec.get("type") != "mlp":
        return model
    from safetensors.torch import load_file

    module = str(spec["module"])
    head = install_mlp_head(model, module, int(spec["hidden"]))
    weights: dict[str, Any] = {}
    for file in sorted(Path(folder).glob("*.safetensors")):
        weights |= {
            k[len(module) + 1 :]: v
            for k, v in load_file(str(file)).items()
            if k.startswith(module + ".")
        }
    head.load_state_dict(weights)
    return model
