"""The root of a spec file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PrivateAttr

from etbuilder.spec._base import NAME_PATTERN, SpecModel
from etbuilder.spec.backbone import BackboneSpec
from etbuilder.spec.compute import ComputeSpec
from etbuilder.spec.data import DataSpec
from etbuilder.spec.deploy import DeploySpec
from etbuilder.spec.strategy import FinetuneStrategy, Strategy
from etbuilder.spec.task import Task
from etbuilder.spec.train import TrainSpec
from etbuilder.spec.tune import TuneSpec

SPEC_VERSIONS = (1,)
"""Spec versions this etbuilder reads."""


class Spec(SpecModel):
    """An etbuilder spec: dataset, task, backbone and transfer-learning strategy."""

    etb: Literal[1] = 1
    """Spec language version."""
    name: str = Field(pattern=NAME_PATTERN, max_length=100)
    """Name of the application; names the run folder (letters, digits, `.`, `_`, `-`)."""
    description: str = ""
    """What the application is for, in a sentence or two."""
    data: DataSpec
    """The dataset."""
    task: Task
    """What to predict."""
    backbone: BackboneSpec = Field(default_factory=BackboneSpec)
    """The pretrained model to transfer from."""
    strategy: Strategy = Field(default_factory=FinetuneStrategy)
    """The transfer-learning algorithm."""
    train: TrainSpec = Field(default_factory=TrainSpec)
    """Optimisation settings."""
    tune: TuneSpec | None = None
    """Hyper-parameter search (`etb tune`, or `etb run` on this spec); absent means one run."""
    compute: ComputeSpec = Field(default_factory=ComputeSpec)
    """Hardware layout and launcher."""
    deploy: DeploySpec = Field(default_factory=DeploySpec)
    """The packaged app."""

    _environment: dict[str, list[str]] = PrivateAttr(default_factory=dict)

    @property
    def environment_values(self) -> dict[str, list[str]]:
        """Dotted path -> the environment variables (not in `deploy.public_env`) whose values the
        loader interpolated there. Not a spec key: the loader records it; the app hides them."""
        return dict(self._environment)

    def record_environment(self, paths: dict[str, list[str]]) -> None:
        """Set `environment_values` (the loader's job)."""
        self._environment = {k: list(v) for k, v in paths.items()}
