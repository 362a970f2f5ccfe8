"""`backbone:` the pretrained model to transfer from."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from etbuilder.spec._base import SpecModel


class BackboneSpec(SpecModel):
    """The pretrained encoder and how it reads text."""

    model: str = Field(default="minilm-l6", min_length=1)
    """A zoo alias (see `etb models`), a Hugging Face id, or a local folder with config.json."""
    max_length: Literal["auto"] | Annotated[int, Field(ge=8, le=8192)] = "auto"
    """Tokens per input; auto covers 99% of the training texts, capped by the model."""
    pooling: Literal["auto", "cls", "mean", "max"] = "auto"
    """How token vectors become one text vector; auto is cls for classifiers, mean for encoders."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) when `model` is a Hugging Face id."""
    allow_online: bool = False
    """Allow downloading a Hugging Face id that is not in the local cache."""
