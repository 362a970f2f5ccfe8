"""Runs started from the studio: `etb run` as a background process writing a run folder.

The studio never trains in its own process. It starts the CLI (`etb run SPEC --output DIR`) in
a new process group and reads everything back from the run folder (run.json, metrics.jsonl,
metrics.json), so a refreshed page or a second tab sees the same run, and a run outlives the
browser. The run folder is etb's alone (`etb run` writes only into a missing or empty folder):
the studio keeps the process's console output, pid and exit code beside it, in
`runs/.studio/<run>/`.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from etbuilder.report.rundir import RunStatus

LOG_FILE = "studio.log"
EXIT_FILE = "studio-exit"
PROCESS_FILE = "studio-process.json"
ETB_PID_FILE = "studio-etb.pid"
BOOKS = ".studio"
"""Folder under `runs/` where the studio keeps its records of each run it started."""
VERBS = ("run", "tune")
"""CLI verbs the studio may start."""


@dataclass(frozen=True)
class RunView:
    """What the studio shows of one run folder."""

    folder: Path
    state: str
    """starting, running, packaging, finished, failed, cancelled or stopped (process gone)."""
    message: str
    """The error (failed), or one line on where the run is."""
    records: list[dict[str, Any]]
    """metrics.jsonl, in order."""

    @property
    def active(self) -> bool:
        return self.state in ("starting", "running", "packaging")

    @property
    def name(self) -> str:
        return self.folder.name


def etb_command(verb: str, spec: Path, output: Path) -> list[str]:
    """The CLI command line of a studio run (shown on the page, so it can be rerun by hand)."""
    if verb not in VERBS:
        raise ValueError(f"unknown verb {verb!r}")
    return [sys.executable, "-m", "etbuilder.cli.main", verb, spec.name, "--output", str(output)]


def books(folder: Path) -> Path:
    """Where the studio keeps its records of the run in `folder` (beside it, not inside)."""
    return folder.parent / BOOKS / folder.name


def start_run(project_dir: Path, verb: str = "run") -> Path:
    """Start `etb <verb>` on the project's spec.yaml in the background; returns the run folder
    (which etb creates)."""
    runs = project_dir / "runs"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = runs / stamp
    n = 1
    while folder.exists() or books(folder).exists():
        n += 1
        folder = runs / f"{stamp}-{n}"
    notes = books(folder)
    notes.mkdir(parents=True)
    argv = etb_command(verb, project_dir / "spec.yaml", folder.relative_to(project_dir))
    log, done = shlex.quote(str(notes / LOG_FILE)), shlex.quote(str(notes / EXIT_FILE))
    pid = shlex.quote(str(notes / ETB_PID_FILE))
    # The shell outlives etb to record its exit code; a cancel signals etb alone, which then
    # writes run.json (`interrupted`) before the shell records the code and ends.
    script = f"{shlex.join(argv)} > {log} 2>&1 & echo $! > {pid}; wait $!; echo $? > {done}"
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    process = subprocess.Popen(
        ["/bin/sh", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=project_dir,
        start_new_session=True,
        env=env,
    )
    record = {"pid": process.pid, "argv": argv, "verb": verb, "cwd": str(project_dir)}
    (notes / PROCESS_FILE).write_text(json.dumps(record) + "\n", encoding="utf-8")
    return folder


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((books(folder) / PROCESS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def log_tail(folder: Path, lines: int = 25) -> str:
    """The last lines of the run's console output (progress bars reduced to their last state)."""
    try:
        text = (books(folder) / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line.rsplit("\r", 1)[-1] for line in text.splitlines()]
    return "\n".join([line for line in kept if line.strip()][-lines:])


def read_records(folder: Path) -> list[dict[str, Any]]:
    records = []
    try:
        text = (folder / "metrics.jsonl").read_text(encoding="utf-8")
    except OSError:
        return []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line being written
    return records


def _exit_code(folder: Path) -> int | None:
    try:
        return int((books(folder) / EXIT_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def view_run(folder: Path) -> RunView:
    """The state of the run in `folder`, read from disk (any tab, any time)."""
    status = RunStatus(folder).data
    state_file = str(status.get("state") or "")
    pid = int(_process(folder).get("pid") or 0)
    code = _exit_code(folder)
    alive = pid > 0 and code is None and _alive(pid)  # an exit code: done, whatever the pid is now
    records = read_records(folder)
    if alive:
        if _process(folder).get("verb") == "tune":
            return RunView(folder, "running", "searching: one training run per trial", records)
        if state_file == "finished":
            return RunView(folder, "packaging", "building the prediction app", records)
        if state_file == "running":
            return RunView(folder, "running", "training", records)
        return RunView(folder, "starting", "reading the data and compiling the plan", records)
    if state_file == "interrupted":
        return RunView(folder, "cancelled", "cancelled; the checkpoints are kept", records)
    if code == 0:
        return RunView(folder, "finished", "finished", records)
    if code is None and state_file == "finished" and (folder / "app").is_dir():
        return RunView(folder, "finished", "finished", records)
    error = str(status.get("error") or "")
    tail = log_tail(folder, 6)
    if code is None:
        message = error or "the run's process ended without a word (killed?)"
        return RunView(folder, "stopped", message + ("\n" + tail if tail else ""), records)
    return RunView(folder, "failed", error or tail or f"etb exited with code {code}", records)


def list_runs(project_dir: Path) -> list[Path]:
    """Run folders of the project, newest first."""
    runs = project_dir / "runs"
    if not runs.is_dir():
        return []
    started = runs / BOOKS
    found = [runs / p.name for p in started.iterdir() if p.is_dir()] if started.is_dir() else []
    found += [p for p in runs.iterdir() if p.is_dir() and (p / "plan.json").is_file()]
    return sorted(set(found), key=lambda p: p.name, reverse=True)


def cancel_run(folder: Path) -> bool:
    """Stop a studio run: SIGTERM to its etb process (the run ends as `interrupted`, its
    checkpoints kept); False when it is not running."""
    shell = int(_process(folder).get("pid") or 0)
    if shell <= 0 or not _alive(shell):
        return False
    try:
        etb = int((books(folder) / ETB_PID_FILE).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        etb = 0
    try:
        if etb > 0:
            os.kill(etb, signal.SIGTERM)
        else:  # not started yet: stop the whole run
            os.killpg(shell, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True
