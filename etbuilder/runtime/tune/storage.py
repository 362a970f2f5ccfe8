"""Where a study is kept: a SQLite file (default), a journal file (parallel workers), memory, or
a database URL that workers on other machines join."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etbuilder.errors import RunError

HEARTBEAT_S = 60
"""Seconds between a trial's heartbeats in a database shared by machines."""
GRACE_S = 180
"""A trial silent this long in a shared database is failed (and retried once)."""


@dataclass
class StudyStorage:
    """An opened optuna storage and how to look at it."""

    storage: Any
    kind: str
    """sqlite, journal, memory or url."""
    location: str
    """The file or URL (empty in memory)."""

    def dashboard_command(self) -> str | None:
        """The command that opens optuna-dashboard on this storage."""
        if self.kind == "memory":
            return None
        return f"optuna-dashboard {self.location}"


def open_storage(kind: str, folder: Path, *, workers: int = 1) -> StudyStorage:
    """The storage `tune.storage` names (`kind`), in study folder `folder`.

    Several workers on one machine share a journal file: SQLite is not reliable under parallel
    writers, so the default becomes `journal` there.
    """
    import optuna
    from optuna.storages import JournalStorage, RDBStorage, RetryFailedTrialCallback
    from optuna.storages.journal import JournalFileBackend

    if kind == "sqlite" and workers > 1:
        kind = "journal"
    if kind == "memory":
        if workers > 1:
            raise RunError(
                "tune.storage: memory cannot be shared by --workers: use journal (the default "
                "with several workers) or a database URL"
            )
        return StudyStorage(optuna.storages.InMemoryStorage(), "memory", "")
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        url = f"sqlite:///{(folder / 'study.db').resolve()}"
        return StudyStorage(
            RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}}), "sqlite", url
        )
    if kind == "journal":
        path = (folder / "study.journal").resolve()
        return StudyStorage(JournalStorage(JournalFileBackend(str(path))), "journal", str(path))
    try:
        storage = RDBStorage(
            kind,
            heartbeat_interval=HEARTBEAT_S,
            grace_period=GRACE_S,
            failed_trial_callback=RetryFailedTrialCallback(max_retry=1),
        )
    except Exception as error:  # a bad URL, a missing driver, a database that refuses
        raise RunError(
            f"tune.storage: cannot open {kind!r}: {type(error).__name__}: {error}; use a "
            "SQLAlchemy URL such as postgresql://user@host/db, or leave storage out"
        ) from None
    return StudyStorage(storage, "url", kind)
