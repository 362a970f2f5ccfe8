"""What a packaged app may disclose: no path of the machine that built it, and no value read
from an environment variable that the spec's `deploy.public_env` does not list.

Apps are shared (a tarball, a Docker image, `/v1/metadata` on the network), so every text file
of the app is scrubbed when it is assembled: absolute folders of the build (the run folder, the
data and backbone folders, the home and working folders) are cut from the paths that name
them, and private environment values are replaced by `${NAME}`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from etbuilder.plan import Plan

ENVIRONMENT_DECISION = "spec.environment"
"""The plan decision that lists the spec values read from private environment variables."""
MIN_SECRET_CHARS = 4
"""Shorter values read from the environment (a number, a flag) are not searched for."""
TEXT_SUFFIXES = (".json", ".md", ".txt", ".sh", ".cfg", ".yaml")
SKIPPED = ("tokenizer.json",)
"""Files that hold only the vocabulary: never a path or a spec value."""


def public_name(path: str) -> str:
    """A file's name without the build machine's folders (`/home/me/data/a.tsv` -> `a.tsv`)."""
    return Path(path).name if os.path.isabs(path) else path


def private_values(plan: Plan) -> dict[str, str]:
    """Value -> `${NAME}` for every string of the spec read from a private variable."""
    found: dict[str, str] = {}
    decision = next((d for d in plan.decisions if d.key == ENVIRONMENT_DECISION), None)
    if decision is None or not isinstance(decision.value, dict):
        return found
    spec = plan.spec.model_dump(mode="json")
    for dotted, names in decision.value.items():
        value = _lookup(spec, dotted)
        if isinstance(value, str) and len(value) >= MIN_SECRET_CHARS:
            found[value] = "".join(f"${{{name}}}" for name in names)
    return found


def _lookup(data: Any, dotted: str) -> Any:
    for part in re.findall(r'[^.\[\]"]+|\[\d+\]', dotted):
        if part.startswith("["):
            index = int(part[1:-1])
            data = data[index] if isinstance(data, list) and index < len(data) else None
        else:
            data = data.get(part) if isinstance(data, dict) else None
    return data


def build_folders(plan: Plan, run_dir: Path) -> list[str]:
    """Absolute folders of the build machine an app's files could name, longest first."""
    folders = {str(run_dir.resolve()), str(Path.cwd()), str(Path.home())}
    for source in plan.data.sources:
        if os.path.isabs(source.path):
            folders.add(str(Path(source.path).parent))
    for value in (plan.backbone.name, getattr(plan.backbone, "path", None)):
        if isinstance(value, str) and os.path.isabs(value):
            folders.add(str(Path(value).parent))
    return sorted((f for f in folders if f not in ("/", "")), key=len, reverse=True)


def scrub_text(text: str, secrets: dict[str, str], folders: list[str]) -> str:
    """`text` without private values and build folders (also as JSON escapes them)."""
    for value, placeholder in sorted(secrets.items(), key=lambda item: -len(item[0])):
        text = text.replace(value, placeholder)
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        if escaped != value:
            text = text.replace(escaped, placeholder)
    for folder in folders:
        text = re.sub(re.escape(folder) + r"(/|(?=[\s\"'`)\],:;]|$))", _relative, text)
    return text


def _relative(match: re.Match[str]) -> str:
    return "" if match.group(1) == "/" else "."


def scrub_app(app: Path, plan: Plan, run_dir: Path) -> None:
    """Scrub every text file of the app folder in place."""
    secrets = private_values(plan)
    folders = build_folders(plan, run_dir)
    for path in sorted(app.rglob("*")):
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES or path.name in SKIPPED:
            continue
        text = path.read_text(encoding="utf-8")
        clean = scrub_text(text, secrets, folders)
        if clean != text:
            path.write_text(clean, encoding="utf-8")
