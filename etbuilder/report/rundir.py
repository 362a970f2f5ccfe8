"""The run folder: where a run writes, its `run.json` status and its JSON-lines metrics log.

    runs/<name>/<timestamp>/
        spec.yaml  plan.json  run.json  metrics.jsonl  checkpoints/  model/
        predictions.jsonl  metrics.json  report.md  plots/

`run.json` says whether the run is running, finished, failed or interrupted; `metrics.jsonl` gets
one JSON object per logged step or evaluation, flushed at once so another process can tail it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etbuilder.errors import RunError
from etbuilder.plan import Plan
from etbuilder.spec import Spec

RUNS_ROOT = "runs"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_atomic(path: Path, text: str) -> None:
    """Write a text file through a temporary file and a rename."""
    from etbuilder.atomic import atomic_write

    atomic_write(path, text)


def new_run_dir(plan: Plan, base: Path | None = None, *, create: bool = True) -> Path:
    """A fresh `runs/<name>/<timestamp>/` under `base` (default: the current folder).

    `create=False` only names it (the other processes of a distributed run receive the main
    process's folder).
    """
    root = (base or Path.cwd()) / RUNS_ROOT / plan.spec.name
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = root / stamp
    n = 1
    while folder.exists():
        n += 1
        folder = root / f"{stamp}-{n}"
    if create:
        folder.mkdir(parents=True)
    return folder


def _listing(folder: Path, limit: int = 5) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _writable_parent(path: Path) -> None:
    """Raise RunError when `path` cannot be created because an ancestor is a file (whether it
    can be written is checked by creating it: `claim_output_dir`)."""
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise RunError(
                    f"cannot create the run folder {path}: {ancestor} is a file, not a folder; "
                    "choose another --output"
                )
            return


def check_output_dir(path: Path, *, resume: bool) -> None:
    """Refuse, before any work, an `--output` that is not a missing path, an empty folder or
    (with `resume`) a run folder: nothing a user owns is ever overwritten or deleted."""
    if path.is_symlink() and not path.exists():
        raise RunError(f"--output {path} is a broken symbolic link; choose another --output")
    if not path.exists():
        if resume:
            raise RunError(f"nothing to resume: {path} does not exist; run without --resume")
        _writable_parent(path)
        return
    if not path.is_dir():
        raise RunError(
            f"--output {path} is a file, not a folder; give a missing or empty folder instead"
        )
    if resume:
        if not (path / "plan.json").is_file():
            holds = f" (it holds: {_listing(path)})" if any(path.iterdir()) else ""
            raise RunError(
                f"nothing to resume in {path}: it is not a run folder (no plan.json){holds}; "
                "run without --resume into a new folder"
            )
        return
    if (path / "plan.json").is_file():
        raise RunError(
            f"{path} already holds a run; continue it with --resume, or choose another --output"
        )
    if any(path.iterdir()):
        raise RunError(
            f"--output {path} is not empty (it holds: {_listing(path)}); a run writes only into "
            "a missing or empty folder, so nothing of yours is overwritten: choose another "
            "--output"
        )


def claim_output_dir(path: Path) -> bool:
    """Create the run folder `path` (checked by `check_output_dir`); True when it was created.

    A folder that cannot be created or written (read-only, no permission) raises RunError.
    """
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".etb-write-check-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        if created and path.is_dir():
            with contextlib.suppress(OSError):
                path.rmdir()
        reason = error.strerror or type(error).__name__
        raise RunError(
            f"cannot write the run folder {path}: {reason}; choose a folder you can write to "
            "with --output"
        ) from None
    return created


def release_output_dir(path: Path) -> None:
    """Remove the run folder `claim_output_dir` created when nothing was written into it."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def check_same_spec(run_dir: Path, spec: Spec) -> None:
    """With --resume: the run folder must hold a run of this very spec, same name and values.

    A resumed run continues the plan it saved, so an edited spec (or other `--set` values) would
    be silently ignored: refused instead, naming the values that differ."""
    try:
        saved = json.loads((run_dir / "plan.json").read_text(encoding="utf-8"))["spec"]
        saved_name = saved["name"]
    except (OSError, ValueError, KeyError, TypeError):
        raise RunError(
            f"{run_dir}/plan.json cannot be read: the run folder is damaged; start a new run"
        ) from None
    if saved_name != spec.name:
        raise RunError(
            f"{run_dir} holds a run of the spec {saved_name!r}, not {spec.name!r}; resume it with "
            f"its own spec ({run_dir}/spec.yaml), or run this spec into another --output"
        )
    changes = spec_changes(saved, spec.model_dump(mode="json"))
    if changes:
        shown = "; ".join(changes[:4]) + (f"; and {len(changes) - 4} more" if changes[4:] else "")
        raise RunError(
            f"{run_dir} was started from other values of {spec.name!r} ({shown}). A resumed run "
            f"continues the plan it saved: restore those values (the run's own spec is "
            f"{run_dir}/spec.yaml; give the same --set options), or run the edited spec into a "
            "new --output"
        )


IGNORED_ON_RESUME = frozenset({"description", "compute.rendezvous"})
"""Spec keys whose change does not affect the run, so --resume accepts it. Where the nodes meet
may change between attempts (node 0 restarted on another host or port): `etb run --master`
sets it on every attempt."""


def spec_changes(saved: Any, current: Any, path: str = "") -> list[str]:
    """`key: saved -> current` for each value that differs between two dumped specs."""
    if isinstance(saved, dict) and isinstance(current, dict):
        changes = []
        for key in dict.fromkeys([*saved, *current]):
            if f"{path}{key}" in IGNORED_ON_RESUME:
                continue
            changes += spec_changes(saved.get(key), current.get(key), f"{path}{key}.")
        return changes
    if saved == current:
        return []
    return [f"{path.rstrip('.')}: {_short(saved)} -> {_short(current)}"]


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def latest_run_dir(name: str, base: Path | None = None) -> Path | None:
    """The most recent run folder of spec `name`, when any."""
    root = (base or Path.cwd()) / RUNS_ROOT / name
    if not root.is_dir():
        return None
    runs = sorted(p for p in root.iterdir() if p.is_dir() and (p / "plan.json").is_file())
    return runs[-1] if runs else None


def read_plan(run_dir: Path) -> Plan:
    """The plan a run folder was trained from."""
    file = run_dir / "plan.json"
    if not file.is_file():
        raise RunError(
            f"{run_dir} is not a run folder (no plan.json); give the folder `etb run` printed"
        )
    return Plan.from_json(file.read_text(encoding="utf-8"))


class RunStatus:
    """`run.json`: state, timestamps, and whatever the run wants to say about itself."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "run.json"
        self.data: dict[str, Any] = {}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError:
                self.data = {}

    def update(self, **values: Any) -> None:
        self.data.update(values)
        self.data["updated"] = now_iso()
        write_atomic(self.path, json.dumps(self.data, indent=2, default=str) + "\n")

    def start(self, resumed: bool) -> None:
        self.data.setdefault("created", now_iso())
        attempts = int(self.data.get("attempts", 0)) + 1
        self.update(
            state="running",
            started=now_iso(),
            finished=None,
            resumed=resumed,
            attempts=attempts,
            pid=os.getpid(),
            host=socket.gethostname(),
            error=None,
        )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """Append-only JSON lines, flushed on every write (the UI tails this file)."""

    def __init__(
        self,
        path: Path,
        *,
        truncate_after_step: int | None = None,
        enabled: bool = True,
        on_eval: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """`on_eval` sees each evaluation record once written (a tuner's pruner); it may raise
        to end the run."""
        self.path = path
        self.on_eval = on_eval
        self.records: list[dict[str, Any]] = []
        self.enabled = enabled
        self._handle: Any = None
        self.started = time.time()
        if not enabled:  # the other processes of a distributed run keep records in memory
            return
        if path.is_file():
            self.records = self._read(path)
        if truncate_after_step is not None:
            kept = [r for r in self.records if int(r.get("step", 0)) <= truncate_after_step]
            if len(kept) != len(self.records):
                self.records = kept
                write_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open on purpose

    @staticmethod
    def _read(path: Path) -> list[dict[str, Any]]:
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a kill -9
        return records

    def write(self, record: dict[str, Any]) -> None:
        clean = {k: _finite(v) for k, v in record.items()}
        self.records.append(clean)
        if self._handle is not None:
            self._handle.write(json.dumps(clean) + "\n")
            self._handle.flush()
        if self.on_eval is not None and clean.get("kind") == "eval":
            self.on_eval(clean)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
