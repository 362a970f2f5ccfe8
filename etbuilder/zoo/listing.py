"""`list_zoo`: every zoo entry with its size and whether it is usable offline on this machine."""

from __future__ import annotations

from dataclasses import dataclass

from etbuilder.zoo.architecture import encoder_parameters, encoder_shape
from etbuilder.zoo.locate import cached_folder, package_folder
from etbuilder.zoo.registry import ZOO, ZooEntry


@dataclass(frozen=True)
class ZooStatus:
    """A zoo entry as `etb models` shows it."""

    entry: ZooEntry
    layers: int
    hidden: int
    parameters: int
    """Bare-encoder parameters computed from the published config."""
    available_offline: bool
    path: str | None
    """Local folder holding it, when available."""

    def to_dict(self) -> dict[str, object]:
        return {
            "alias": self.entry.alias,
            "source": self.entry.source_label,
            "hf_id": self.entry.hf_id,
            "model_type": self.entry.config.get("model_type"),
            "layers": self.layers,
            "hidden": self.hidden,
            "parameters": self.parameters,
            "available_offline": self.available_offline,
            "path": self.path,
            "description": self.entry.description,
        }


def _locate(entry: ZooEntry) -> str | None:
    if entry.kind == "package":
        folder = package_folder(entry)
        return str(folder) if folder else None
    for repo_id in entry.hf_ids:
        folder = cached_folder(repo_id)
        if folder is not None:
            return str(folder)
    return None


def list_zoo() -> list[ZooStatus]:
    """The zoo in display order; availability is checked on disk (no network)."""
    statuses = []
    for entry in ZOO.values():
        shape = encoder_shape(entry.config)
        path = _locate(entry)
        statuses.append(
            ZooStatus(
                entry=entry,
                layers=shape.layers,
                hidden=shape.hidden,
                parameters=encoder_parameters(entry.config)[0],
                available_offline=path is not None,
                path=path,
            )
        )
    return statuses
