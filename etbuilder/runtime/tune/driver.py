"""`run_study`: open the study, run this worker's trials (and start the other workers), then
write the study folder's outputs and return the best trial's run folder."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etbuilder.errors import RunError
from etbuilder.plan import HardwareInfo, Plan
from etbuilder.runtime.tune import outputs
from etbuilder.runtime.tune.study import open_study, work, write_study_record


@dataclass
class StudyResult:
    """A finished study: its summary, the best trial's run folder, and what was written."""

    folder: Path
    summary: outputs.StudySummary
    best_run: Path | None
    rows: list[tuple[str, ...]]
    """The trials table (a header row first)."""
    dashboard: str | None
    wall_s: float


def run_study(
    plan: Plan,
    spec_path: Path | None,
    folder: Path,
    *,
    hardware: HardwareInfo | None = None,
    workers: int = 1,
    resume: bool = False,
    join: bool = False,
    worker_command: Sequence[str] | None = None,
    echo: Callable[[str], None] = lambda _text: None,
) -> StudyResult | None:
    """Run the study `plan.tune` describes in `folder`.

    `workers` > 1 starts `worker_command` (the same study, `--join`) workers - 1 times beside
    this one; `join` runs trials only (a worker started that way returns None).
    """
    tune = plan.tune
    if tune is None:
        raise RunError(f"{plan.spec.name}: the spec has no `tune:` section; use `etb run`")
    started = time.perf_counter()
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    opened = open_study(
        plan.spec,
        spec_path,
        tune,
        folder,
        hardware=hardware or plan.hardware,
        workers=max(workers, 2 if join else 1),
        resume=resume or join,
    )
    dashboard = opened.storage.dashboard_command()
    if not join:
        write_study_record(
            folder,
            {"spec": plan.spec.name, "storage": opened.storage.kind, "dashboard": dashboard},
        )
        if dashboard:
            echo(f"study: {dashboard}")
    others = _start_workers(worker_command, workers - 1) if not join else []
    try:
        work(opened)
    finally:
        failed = [p.args for p in others if p.wait() != 0]
    if join:
        return None
    if failed:
        echo(f"warning: {len(failed)} worker(s) exited with an error; their trials are recorded")
    return finish_study(opened, folder, dashboard, time.perf_counter() - started)


def _start_workers(command: Sequence[str] | None, count: int) -> list[subprocess.Popen[bytes]]:
    if count <= 0:
        return []
    if command is None:
        raise RunError("--workers needs the command that starts a joining worker")
    return [subprocess.Popen(list(command)) for _ in range(count)]


def finish_study(opened: Any, folder: Path, dashboard: str | None, wall_s: float) -> StudyResult:
    """trials.csv, best.yaml, plots, report.md and study.json; the best trial's run folder."""
    study, tune = opened.study, opened.tune_plan
    summary = outputs.summarize(study)
    csv_text = outputs.trials_csv(study, tune)
    rows = trial_rows(study, tune)
    table = format_rows(rows)
    files = {"trials.csv": csv_text}
    best_run = Path(summary.best_run) if summary.best_run else None
    if best_run is not None:
        text = outputs.best_spec_text(study, best_run)
        if text is not None:
            files["best.yaml"] = outputs.best_yaml(best_run, text, dashboard)
    outputs.write_outputs(folder, files)
    plots = outputs.write_plots(study, folder) if study.trials else []
    outputs.write_outputs(
        folder,
        {
            "report.md": outputs.report_markdown(
                opened.context.spec.name, tune, summary, table, plots, dashboard, wall_s
            )
        },
    )
    write_study_record(folder, {"summary": summary.as_dict(), "wall_s": round(wall_s, 1)})
    outputs.check_outcome(summary)
    return StudyResult(folder, summary, best_run, rows, dashboard, wall_s)


def trial_rows(study: Any, tune: Any) -> list[tuple[str, ...]]:
    """The trials as table rows, a header first (report.md and the CLI show them)."""
    rows: list[tuple[str, ...]] = [("#", "state", tune.metric, "values", "note")]
    for trial in outputs.started(study):
        attrs = trial.user_attrs
        note = (
            attrs.get("failure")
            or attrs.get("skipped")
            or outputs._pruned_at(trial)
            or (f"{attrs['seconds']} s" if "seconds" in attrs else "")
        )
        values = ", ".join(f"{k.split('.')[-1]}={_short(v)}" for k, v in trial.params.items())
        value = "" if trial.value is None else f"{trial.value:.4f}"
        rows.append((str(trial.number), outputs.state_of(trial), value, values, str(note)[:70]))
    return rows


def format_rows(rows: list[tuple[str, ...]]) -> str:
    """Rows as aligned plain text."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
