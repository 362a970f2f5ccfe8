"""The studio's workspace: one folder that holds every project, upload and run.

    <workspace>/
        studio.json                 the current project (so a refresh or a second tab finds it)
        <project>/spec.yaml         the spec the studio writes (`etb run` reads it as it is)
        <project>/data/<file>       uploaded data files, names sanitized
        <project>/runs/<stamp>/     run folders written by `etb run --output`

Nothing a user types is read outside the workspace: `inside()` refuses any path that resolves
elsewhere (`..`, absolute paths, symbolic links pointing out).
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from etbuilder.atomic import atomic_write
from etbuilder.errors import EtbError

MAX_UPLOAD_BYTES = 200 * 2**20
"""Largest data file the studio accepts (also handed to Streamlit as server.maxUploadSize)."""
UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".json", ".parquet", ".conll")
"""Data file kinds the readers take (.txt/.json read as tsv/jsonl by the spec's `format`)."""
WORKSPACE_VARIABLE = "ETB_UI_WORKSPACE"
"""Environment variable through which `etb ui --workspace` hands the folder to the app."""


class WorkspaceError(EtbError):
    """A name or path the studio refuses (outside the workspace, too large, wrong kind)."""


def safe_name(name: str, *, fallback: str = "file") -> str:
    """`name` reduced to a plain file name: no folders, no dots in front, ASCII letters, digits,
    `-`, `_` and `.` only, at most 80 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-_")
    base = re.sub(r"\.{2,}", ".", base)
    if len(base) > 80:
        stem, dot, suffix = base.rpartition(".")
        base = (stem[: 79 - len(suffix)] + dot + suffix) if dot and len(suffix) < 10 else base[:80]
    return base or fallback


def project_name(text: str) -> str:
    """A project (and spec) name: lower-case letters, digits and `-`."""
    name = re.sub(r"[^a-z0-9-]+", "-", safe_name(text, fallback="project").lower())
    return name.strip("-")[:48] or "project"


class Workspace:
    """The folder every file the studio reads or writes lives in."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    # -- paths -------------------------------------------------------------------------------

    def inside(self, path: str | Path, base: Path | None = None) -> Path:
        """`path` (relative to `base`, default the workspace) resolved, if it stays inside."""
        start = base if base is not None else self.root
        resolved = (start / Path(path)).resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise WorkspaceError(
                f"{path} is outside the studio's workspace ({self.root}); "
                "copy the file into the workspace or upload it"
            )
        return resolved

    def project_dir(self, name: str) -> Path:
        return self.inside(project_name(name))

    def spec_path(self, name: str) -> Path:
        return self.project_dir(name) / "spec.yaml"

    def projects(self) -> list[str]:
        """Projects that have a spec, newest first."""
        found = [p for p in self.root.iterdir() if (p / "spec.yaml").is_file()]
        found.sort(key=lambda p: (p / "spec.yaml").stat().st_mtime, reverse=True)
        return [p.name for p in found]

    # -- current project ---------------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.root / "studio.json"

    def current(self) -> str | None:
        """The project the studio shows (stored on disk: shared by tabs, kept over refreshes)."""
        try:
            name = json.loads(self._state_file.read_text(encoding="utf-8")).get("project")
        except (OSError, ValueError):
            name = None
        if isinstance(name, str) and (self.root / name / "spec.yaml").is_file():
            return name
        projects = self.projects()
        return projects[0] if projects else None

    def set_current(self, name: str) -> None:
        atomic_write(self._state_file, json.dumps({"project": project_name(name)}) + "\n")

    # -- files -------------------------------------------------------------------------------

    def save_upload(self, project: str, filename: str, data: bytes) -> Path:
        """Store an uploaded data file under `<project>/data/`; returns its path."""
        if len(data) > MAX_UPLOAD_BYTES:
            raise WorkspaceError(
                f"{filename}: {len(data) / 2**20:.0f} MiB is over the studio's upload limit "
                f"({MAX_UPLOAD_BYTES // 2**20} MiB); use `etb init`/`etb run` on the command line"
            )
        name = safe_name(filename, fallback="data.csv")
        if not name.lower().endswith(UPLOAD_SUFFIXES):
            raise WorkspaceError(
                f"{filename}: not a data file the studio reads; "
                f"use one of {', '.join(UPLOAD_SUFFIXES)}"
            )
        folder = self.project_dir(project) / "data"
        folder.mkdir(parents=True, exist_ok=True)
        target = self.inside(name, folder)
        atomic_write(target, data)
        return target

    def write_spec(self, project: str, text: str) -> Path:
        path = self.spec_path(project)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
        return path

    def read_spec(self, project: str) -> str:
        path = self.spec_path(project)
        return path.read_text(encoding="utf-8") if path.is_file() else ""


def paths_outside(spec: object, workspace: Workspace, base: Path) -> list[str]:
    """Messages for the files a loaded spec would read outside the workspace (data, backbone);
    relative paths are read from `base`, the spec's folder."""
    from etbuilder.spec import Spec
    from etbuilder.spec.data import DataFile
    from etbuilder.zoo.locate import looks_like_path

    assert isinstance(spec, Spec)
    found: list[tuple[str, str]] = []
    for split in ("train", "validation", "test"):
        source = getattr(spec.data, split)
        if isinstance(source, DataFile):
            found.append((f"data.{split}", source.path))
    if looks_like_path(spec.backbone.model):
        found.append(("backbone.model", spec.backbone.model))
    messages = []
    for key, path in found:
        if "://" in path:
            messages.append(f"{key}: {path} is a URL; the studio reads files of its workspace only")
            continue
        try:
            workspace.inside(Path(path).expanduser(), base)
        except WorkspaceError as error:
            messages.append(f"{key}: {error}")
    return messages
