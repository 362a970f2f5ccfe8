"""The template gallery: ready-to-run specs for common business problems.

A template is a folder of the repository's `templates/` holding `spec.yaml` (opening with a
comment header: the scenario, what the model decides, why this strategy, how to run and adapt
it), `README.md`, its data under `data/`, and `metrics.json`: the metrics of a recorded run of
that spec with the default backbone, which the README quotes (a template with `tune:` quotes
its study's best trial, and keeps the study's figures in `study.json`). A template that distils
a teacher also holds `teacher.yaml`, which its own run trains first (`strategy.teacher:
teacher.yaml`).

The gallery is found beside the `etbuilder` package (a clone of the repository, installed with
`pip install -e .`), or wherever the environment variable `ETB_TEMPLATES` points. This module
lists the templates and copies one into a new folder that runs as it is; `etb templates`,
`etb init --template` and the studio all read the gallery through it. It reads YAML and JSON
only (no torch, no spec compilation), so listing is instant.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from etbuilder.errors import TemplateError

TEMPLATES_VARIABLE = "ETB_TEMPLATES"
"""Environment variable naming a templates folder (default: `templates/` of the repository)."""
SPEC_FILE = "spec.yaml"
TEACHER_RUN = "teacher-run"
MEASURED_FILE = "metrics.json"
STUDY_FILE = "study.json"
SCHEMA_MARK = "$schema="
NOT_COPIED = frozenset({TEACHER_RUN, "runs", "__pycache__", ".etb-cache"})
"""Folders of a template never copied: run outputs and caches."""
TEXT_SUFFIXES = frozenset({".yaml", ".yml", ".md", ".py"})
"""Files whose paths are rewritten when a template is copied."""


@dataclass(frozen=True)
class Measured:
    """The recorded run of a template: its model-selection metric on the test split."""

    metric: str
    value: float
    train_seconds: float | None
    steps: int | None
    search_seconds: float | None = None
    """A template with `tune:`: the wall time of its recorded study (`study.json`)."""


@dataclass(frozen=True)
class Template:
    """One template of the gallery."""

    name: str
    folder: Path
    task: str
    strategy: str
    purpose: str
    measured: Measured | None

    @property
    def spec(self) -> Path:
        return self.folder / SPEC_FILE

    def to_dict(self) -> dict[str, Any]:
        measured = self.measured
        return {
            "name": self.name,
            "task": self.task,
            "strategy": self.strategy,
            "purpose": self.purpose,
            "folder": str(self.folder),
            "metric": measured.metric if measured else None,
            "value": measured.value if measured else None,
            "train_seconds": measured.train_seconds if measured else None,
            "search_seconds": measured.search_seconds if measured else None,
        }


def gallery_root() -> Path:
    """The templates folder: `$ETB_TEMPLATES`, else `templates/` beside the package."""
    configured = os.environ.get(TEMPLATES_VARIABLE)
    if configured:
        path = Path(configured).expanduser()
        if not path.is_dir():
            raise TemplateError(
                f"{TEMPLATES_VARIABLE} is {configured!r}, which is not a folder; point it at the "
                "templates/ folder of an etbuilder clone, or unset it"
            )
        return path
    path = Path(__file__).resolve().parent.parent / "templates"
    if not path.is_dir():
        raise TemplateError(
            f"the template gallery is not installed: no templates/ folder beside {path.parent}; "
            "install etbuilder from a clone of its repository (pip install -e .), or set "
            f"{TEMPLATES_VARIABLE} to the templates/ folder of a clone"
        )
    return path


def _strategy_name(spec: dict[str, Any]) -> str:
    """The strategy as listed: `dapt + finetune`, or the choices a `tune:` search tries."""
    tune = spec.get("tune")
    space = tune.get("space") if isinstance(tune, dict) else None
    searched = space.get("strategy.type") if isinstance(space, dict) else None
    if isinstance(searched, dict) and isinstance(searched.get("choice"), list):
        return "tune: " + " | ".join(str(c) for c in searched["choice"])
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        return "tune" if isinstance(tune, dict) else "finetune"
    name = str(strategy.get("type", "finetune"))
    then = strategy.get("then")
    if isinstance(then, dict) and "type" in then:
        name += f" + {then['type']}"
    return f"tune: {name}" if isinstance(tune, dict) else name


def read_measured(folder: Path) -> Measured | None:
    """The recorded run's test metric (`metrics.json` beside the spec), if recorded."""
    path = folder / MEASURED_FILE
    if not path.is_file():
        return None
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
        metric = str(metrics["selection_metric"])
        value = float(metrics["test"][metric])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TemplateError(
            f"{path}: not the metrics.json of a finished run ({type(error).__name__}: {error}); "
            "copy it again from the run folder of the template's recorded run"
        ) from None
    seconds = metrics.get("train_seconds")
    steps = metrics.get("steps")
    return Measured(
        metric=metric,
        value=value,
        train_seconds=float(seconds) if isinstance(seconds, int | float) else None,
        steps=int(steps) if isinstance(steps, int) else None,
        search_seconds=_study_seconds(folder / STUDY_FILE),
    )


def _study_seconds(path: Path) -> float | None:
    """The recorded study's wall time (`study.json` of a template with `tune:`), if any."""
    if not path.is_file():
        return None
    try:
        wall = json.loads(path.read_text(encoding="utf-8")).get("wall_s")
    except (OSError, ValueError, AttributeError):
        return None
    return float(wall) if isinstance(wall, int | float) else None


def read_template(folder: Path) -> Template:
    """The template in `folder` (its spec's task, strategy and description, its measurement)."""
    spec_path = folder / SPEC_FILE
    try:
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"{spec_path}: cannot read the template's spec ({error})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("task"), dict):
        raise TemplateError(f"{spec_path}: not an etbuilder spec (no task: mapping)")
    return Template(
        name=folder.name,
        folder=folder,
        task=str(spec["task"].get("type", "")),
        strategy=_strategy_name(spec),
        purpose=str(spec.get("description", "")).strip(),
        measured=read_measured(folder),
    )


def list_templates(root: Path | None = None) -> list[Template]:
    """Every template of the gallery, sorted by name."""
    base = root if root is not None else gallery_root()
    return [read_template(spec.parent) for spec in sorted(base.glob(f"*/{SPEC_FILE}"))]


def find_template(name: str, root: Path | None = None) -> Template:
    """The template called `name`; an unknown name lists the close ones."""
    base = root if root is not None else gallery_root()
    folder = base / name
    if name and "/" not in name and (folder / SPEC_FILE).is_file():
        return read_template(folder)
    names = [t.name for t in list_templates(base)]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise TemplateError(
        f"no template called {name!r}; {hint}the gallery has: {', '.join(names)} "
        "(`etb templates` describes them)"
    )


def run_commands(template: Template, folder: Path | str) -> list[str]:
    """The commands that train the template copied to `folder`, in order (one: a distilling
    template's run trains its teacher itself)."""
    return [f"etb run {Path(folder).as_posix()}/{SPEC_FILE}"]


def _rewrite(text: str, name: str, dest: Path, schema: Path) -> str:
    """Paths of the template's text made right for its copy at `dest`."""
    where = dest.as_posix().rstrip("/")
    text = text.replace(f"templates/{name}/", f"{where}/")
    if schema.is_file():
        repository = schema.parent.parent
        inside = repository in dest.resolve().parents
        where_schema = os.path.relpath(schema, dest.resolve()) if inside else str(schema)
        lines = text.split("\n")
        if lines and SCHEMA_MARK in lines[0]:
            lines[0] = lines[0].split(SCHEMA_MARK)[0] + SCHEMA_MARK + Path(where_schema).as_posix()
        text = "\n".join(lines)
    return text


def _files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if path.is_file() and not NOT_COPIED.intersection(parts):
            found.append(path)
    return found


def copy_template(
    name: str, dest: Path, *, force: bool = False, root: Path | None = None
) -> Template:
    """Copy template `name` into the folder `dest`, ready to run from there.

    The data come along; the spec's schema line and the README's commands are rewritten for the
    new place (the spec's own paths are relative to it and need no change). A folder that exists
    and is not empty is refused unless `force`; even then only the template's files are written
    and nothing else in the folder is touched.
    """
    template = find_template(name, root)
    target = dest.resolve()
    if target == template.folder.resolve() or template.folder.resolve() in target.parents:
        raise TemplateError(f"{dest}: cannot copy template {name!r} into its own folder")
    if target.exists() and not target.is_dir():
        raise TemplateError(f"{dest} is a file; give the path of a new folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise TemplateError(
            f"{dest} already exists and is not empty; choose a new folder, or pass --force to "
            "write the template's files into it (files of the same name are replaced, others kept)"
        )
    base = root if root is not None else gallery_root()
    schema = base.resolve().parent / "schemas" / "etb-spec.schema.json"
    for source in _files(template.folder):
        out = target / source.relative_to(template.folder)
        out.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix in TEXT_SUFFIXES:
            text = source.read_text(encoding="utf-8")
            out.write_text(_rewrite(text, name, dest, schema), encoding="utf-8", newline="")
        else:
            shutil.copyfile(source, out)
    return read_template(target)
