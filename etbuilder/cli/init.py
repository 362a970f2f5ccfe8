"""`etb init`: start a project folder, from a data file (`--data FILE`: a commented spec with a
`tune:` section) or from a gallery template (`--template NAME`: its spec, README and data)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="The data file to build the spec for (csv, tsv, jsonl, ...)."),
]
LabelOption = Annotated[
    str | None, typer.Option("--label", help="The label column (default: inferred).")
]
TextOption = Annotated[
    list[str] | None,
    typer.Option("--text", help="A text column (repeat for a pair; default: inferred)."),
]
TaskOption = Annotated[
    str | None,
    typer.Option("--task", help="The task type (default: inferred), e.g. regression."),
]
HeaderOption = Annotated[
    bool | None,
    typer.Option("--header/--no-header", help="Whether the first row names the columns."),
]
BudgetOption = Annotated[
    str,
    typer.Option("--budget", help="Time the search may take (`10m`, `1h`); sizes `tune:`."),
]
TemplateOption = Annotated[
    str | None,
    typer.Option(
        "--template",
        "-t",
        metavar="NAME",
        help="Copy this gallery template, data included (see `etb templates`).",
        show_default=False,
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Overwrite an existing spec.yaml (--data), or write a template into a folder that "
        "is not empty (files of the same name are replaced, others kept).",
    ),
]
FolderArgument = Annotated[
    Path, typer.Argument(metavar="DIR", help="Folder to write spec.yaml into.", show_default=False)
]

SPEC_FILE = "spec.yaml"

OWN_CONFIGURATIONS: tuple[tuple[str, int | None, str | None], ...] = (
    ("finetune", 3, None),
    ("finetune", 1, "train.epochs: 1 so the spec's own configuration fits the {budget} budget"),
    (
        "features",
        None,
        "strategy.type: features, because one epoch of finetune does not leave room for a "
        "second trial in the {budget} budget (the frozen backbone runs once; the search still "
        "tries lora and finetune where they fit)",
    ),
)
"""The spec's own configuration (trial 0), the first that leaves the budget room for two
trials by the compiler's estimate: (strategy, epochs, the note that says why)."""


def init(
    folder: FolderArgument,
    data: DataOption = None,
    label: LabelOption = None,
    text: TextOption = None,
    task: TaskOption = None,
    header: HeaderOption = None,
    budget: BudgetOption = "10m",
    template: TemplateOption = None,
    force: ForceOption = False,
) -> None:
    """Start DIR from a data file (spec inferred, with reasons) or a gallery template."""
    from etbuilder.data.infer import infer, tune_section
    from etbuilder.errors import RunError
    from etbuilder.spec._base import DURATION_PATTERN, parse_duration

    if template is not None:
        if data is not None:
            raise RunError("etb init takes --data FILE or --template NAME, not both")
        _from_template(template, folder, force)
        return
    if data is None:
        raise RunError(
            "etb init needs --data FILE (a spec for your data file) or --template NAME "
            "(a gallery template: `etb templates` lists them)"
        )
    if not re.match(DURATION_PATTERN, budget):
        raise RunError(f"--budget {budget!r} is not a duration: write e.g. 90s, 10m or 1.5h")
    if task is not None:
        from typing import get_args

        from etbuilder.spec._hints import did_you_mean
        from etbuilder.spec.task import TaskType

        allowed = [str(t) for t in get_args(TaskType)]
        if task not in allowed:
            hint = did_you_mean(task, allowed) or f"one of: {', '.join(allowed)}"
            raise RunError(f"--task {task!r} is not a task type; {hint}")
    target = folder / SPEC_FILE
    if target.exists() and not force:
        raise RunError(f"{target} exists: keep it, or pass --force to overwrite it")
    found = infer(data, label=label, text=text, task=task, header=header)
    folder.mkdir(parents=True, exist_ok=True)
    relative = os.path.relpath(Path(data).resolve(), folder.resolve())
    if relative.startswith(os.path.join(os.pardir, os.pardir)):
        relative = str(Path(data).resolve())  # far away: an absolute path reads better
    tune = tune_section(parse_duration(budget), budget)
    name = _name(folder, Path(data))
    draft = folder / f".{SPEC_FILE}.init"
    plan, why = None, None
    try:
        for strategy, epochs, because in OWN_CONFIGURATIONS:
            text_out = spec_text(found, relative, name, tune, epochs=epochs, strategy=strategy)
            _write(draft, text_out)
            plan, why = _check(draft), because
            if plan.tune is None or plan.tune.expected_trials >= 2:
                break
    finally:
        draft.unlink(missing_ok=True)
    assert plan is not None
    if plan.tune is not None and plan.tune.expected_trials < 1:
        enough = math.ceil(2 * plan.tune.seconds_per_trial / 60)
        raise RunError(
            f"--budget {budget} is shorter than one trial of the cheapest configuration "
            f"({plan.tune.seconds_per_trial:.0f} s estimated on this machine): pass --budget "
            f"{enough}m or more, or a smaller data file"
        )
    _write(target, text_out)
    if why:
        found.notes.append(why.format(budget=budget))
    for setting, why in found.reasons:
        typer.echo(f"  {setting}: {why}", err=True)
    for note in found.notes:
        typer.echo(f"  note: {note}", err=True)
    typer.echo(f"wrote {target} ({plan.task.type}, {found.rows:,} rows read)")
    if plan.tune is not None:
        typer.echo(
            f"tune: about {plan.tune.expected_trials} of {plan.tune.trials} trials fit {budget} "
            f"({plan.tune.seconds_per_trial:.0f} s estimated for the spec's own configuration); "
            f"then the best trial is tested and packaged"
        )
    typer.echo(f"next: etb run {target}")


def _from_template(name: str, folder: Path, force: bool) -> None:
    """Copy gallery template `name` into `folder` and say how to run it."""
    from etbuilder.gallery import copy_template, run_commands

    copied = copy_template(name, folder, force=force)
    typer.echo(f"copied template {name!r} to {folder}/ (spec.yaml, README.md, data/)")
    typer.echo("next:")
    for command in run_commands(copied, folder):
        typer.echo(f"  {command}")
    typer.echo(f"then point {folder}/spec.yaml at your own data (see {folder}/README.md)")


def _name(folder: Path, data: Path) -> str:
    base = folder.resolve().name or data.stem
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-._") or "app"
    return name[:100]


def _write(target: Path, text: str) -> None:
    from etbuilder.atomic import atomic_write

    atomic_write(target, text)


def _check(target: Path) -> Any:
    """The spec validates and plans (or the error says why)."""
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.spec.loader import load_spec

    return compile_spec(load_spec(target), spec_path=target)


def _yaml(value: Any) -> str:
    import yaml

    return (
        str(yaml.safe_dump(value, default_flow_style=True, width=1000))
        .strip()
        .removesuffix("\n...")
    )


def spec_text(
    found: Any,
    data_path: str,
    name: str,
    tune: dict[str, Any],
    *,
    epochs: int | None,
    strategy: str = "finetune",
) -> str:
    """The spec, commented with the reason for each inferred choice."""
    lines = [
        "# yaml-language-server: $schema=https://etbuilder.dev/schemas/etb-spec.schema.json",
        f"# Written by `etb init --data {found.path.name}`: check the choices, then `etb run`.",
        "etb: 1",
        f"name: {name}",
        f"description: Trained on {found.path.name}.",
        "data:",
        f"  train: {_yaml(data_path)}",
    ]
    fmt = found.reason_for("data.format")
    lines.append(f"  format: {found.format}" + (f"  # {fmt}" if fmt else ""))
    if found.format in ("csv", "tsv"):
        lines.append(
            f"  header: {str(found.header).lower()}  # {found.reason_for('data.header') or ''}"
        )
        if found.columns:
            lines.append(f"  columns: {_yaml(found.columns)}  # no header: pass --label/--text")
        if not found.quoting:
            lines.append(f"  quoting: false  # {found.reason_for('data.quoting')}")
    lines.append("  split: {validation: 0.1, test: 0.1, seed: 13}  # one file: hold out 10% + 10%")
    lines.append("task:")
    for key, value in found.task.items():
        why = found.reason_for(f"task.{key}")
        lines.append(f"  {key}: {_yaml(value)}" + (f"  # {why}" if why else ""))
    lines += [
        "backbone:",
        "  model: minilm-l6  # the offline default (22.7M parameters)",
        "strategy:",
        f"  type: {strategy}  # trial 0 of the search; `tune:` also tries the others",
    ]
    if epochs is not None:
        lines += [
            "train:",
            f"  epochs: {epochs}  # for {strategy} only: other strategies' trials take their own",
        ]
    lines += [
        "# The search: strategy, learning rate and epochs within the budget; delete this",
        "# section to train once with the values above.",
        "tune:",
        f"  budget: {tune['budget']}",
        f"  trials: {tune['trials']}",
        f"  sampler: {tune['sampler']}",
        f"  pruner: {tune['pruner']}",
        "  space:",
    ]
    for key, search in tune["space"].items():
        note = {
            "strategy.head": "  # features only",
            "strategy.r": "  # lora only",
        }.get(key, "")
        lines.append(f"    {key}: {_yaml(search)}{note}")
    return "\n".join(lines) + "\n"
