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
    from optuna.storages import JournalStorage, RDBStorage
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
    shown = shown_url(kind)
    try:
        storage = _open_url(kind)
    except ImportError:  # optuna's word for a missing database driver
        scheme = kind.split("://", 1)[0]
        install = next((v for k, v in DRIVERS.items() if scheme.startswith(k)), None)
        raise RunError(
            f"tune.storage: {shown} needs a database driver for {scheme}, which is not "
            f"installed: {install or 'install the one SQLAlchemy names for this URL'}"
        ) from None
    except Exception as error:  # a bad URL, a database that refuses or is not there
        detail = str(error).replace(kind, shown).strip().splitlines()
        raise RunError(
            f"tune.storage: cannot open {shown}: {type(error).__name__}: "
            f"{detail[0] if detail else ''}; check the URL (a SQLAlchemy URL such as "
            "postgresql://user@host/db) and that the database accepts connections, or leave "
            "storage out"
        ) from None
    return StudyStorage(storage, "url", shown)


OPEN_TRIES = 5
"""Attempts to open a database URL: processes that start together on an empty database race
to create optuna's tables, and the losers' first attempt fails on a duplicate key."""


def _open_url(url: str) -> Any:
    import time

    from optuna.storages import RDBStorage

    for attempt in range(OPEN_TRIES):
        try:
            return RDBStorage(
                url,
                engine_kwargs={"connect_args": {"timeout": 60}}
                if url.startswith("sqlite")
                else None,
                heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S,
                **_retry_once(),
            )
        except ImportError:
            raise
        except Exception:
            if attempt == OPEN_TRIES - 1:
                raise
            time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def _retry_once() -> dict[str, Any]:
    """The RDBStorage argument that enqueues a heartbeat-stale trial again, once (optuna 4.9
    renamed the callback and its argument; older releases know only the first names)."""
    import optuna.storages as storages

    renamed = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
    if renamed is not None:
        return {"heartbeat_stale_trial_callback": renamed(max_retry=1)}
    return {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=1)}


DRIVERS = {
    "postgresql": "pip install 'psycopg[binary]' (etbuilder[postgres])",
    "mysql": "pip install pymysql and write the URL as mysql+pymysql://...",
}
"""URL scheme -> how to install the driver SQLAlchemy 2 loads for it."""


def shown_url(url: str) -> str:
    """`url` with its password masked, for files and messages (study.json, report.md)."""
    try:
        from sqlalchemy.engine import make_url

        return str(make_url(url).render_as_string(hide_password=True))
    except Exception:  # not a URL SQLAlchemy can parse: RDBStorage says why
        return url
