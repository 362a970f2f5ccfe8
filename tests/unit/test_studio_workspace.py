"""The studio's workspace rules (names, paths, uploads) and its spec form edits (no browser)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from etbuilder.cli.ui import LOOPBACK, UPLOAD_LIMIT_MB, streamlit_command
from etbuilder.spec.loader import load_spec_text
from ui import specform
from ui.workspace import (
    MAX_UPLOAD_BYTES,
    Workspace,
    WorkspaceError,
    paths_outside,
    project_name,
    safe_name,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\reviews 2024.csv", "reviews-2024.csv"),
        (".hidden.csv", "hidden.csv"),
        ("données été.tsv", "donnees-ete.tsv"),
        ("a..b.csv", "a.b.csv"),
        ("///", "file"),
        ("x" * 200 + ".csv", "x" * 76 + ".csv"),
    ],
)
def test_safe_name_keeps_a_plain_file_name(given: str, expected: str) -> None:
    assert safe_name(given) == expected


def test_project_names_are_lower_case_words() -> None:
    assert project_name("Customer Reviews (v2)") == "customer-reviews-v2"
    assert project_name("../..") == "project"


def test_paths_outside_the_workspace_are_refused(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    (tmp_path / "secret.txt").write_text("no", encoding="utf-8")
    assert ws.inside("p/data/x.csv") == ws.root / "p" / "data" / "x.csv"
    for path in ("../secret.txt", str(tmp_path / "secret.txt"), "p/../../secret.txt"):
        with pytest.raises(WorkspaceError, match="outside the studio's workspace"):
            ws.inside(path)
    os.symlink(tmp_path, ws.root / "link")
    with pytest.raises(WorkspaceError):
        ws.inside("link/secret.txt")


def test_uploads_are_renamed_kept_inside_and_size_limited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace(tmp_path)
    saved = ws.save_upload("reviews", "../../evil name.csv", b"text,label\nhi,a\n")
    assert saved == tmp_path / "reviews" / "data" / "evil-name.csv"
    assert saved.read_bytes() == b"text,label\nhi,a\n"
    with pytest.raises(WorkspaceError, match="not a data file"):
        ws.save_upload("reviews", "run.sh", b"rm -rf /")
    monkeypatch.setattr("ui.workspace.MAX_UPLOAD_BYTES", 10)
    with pytest.raises(WorkspaceError, match="upload limit"):
        ws.save_upload("reviews", "big.csv", b"x" * 11)


def test_the_upload_limit_is_the_one_streamlit_is_started_with(tmp_path: Path) -> None:
    assert MAX_UPLOAD_BYTES == UPLOAD_LIMIT_MB * 2**20
    command = streamlit_command(tmp_path / "app.py", "127.0.0.1", 8600)
    assert command[command.index("--server.maxUploadSize") + 1] == str(UPLOAD_LIMIT_MB)
    assert command[command.index("--server.address") + 1] in LOOPBACK


def test_the_current_project_is_kept_on_disk(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert ws.current() is None
    ws.write_spec("one", "etb: 1\n")
    ws.write_spec("two", "etb: 1\n")
    ws.set_current("one")
    assert Workspace(tmp_path).current() == "one"  # another tab, a refresh
    assert sorted(ws.projects()) == ["one", "two"]


def test_a_spec_reading_files_outside_is_flagged(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    folder = ws.project_dir("p")
    text = (
        "etb: 1\nname: p\ndata:\n  train: {train}\ntask:\n  type: classification\n"
        "  text: t\n  label: l\nbackbone:\n  model: {model}\n"
    )
    inside = load_spec_text(text.format(train="data/x.csv", model="minilm-l6"), base_dir=folder)
    assert paths_outside(inside, ws, folder) == []
    outside = load_spec_text(text.format(train="/etc/x.csv", model="../../m"), base_dir=folder)
    messages = paths_outside(outside, ws, folder)
    assert [m.split(":")[0] for m in messages] == ["data.train", "backbone.model"]


def test_form_fields_follow_the_schema_and_the_chosen_variant() -> None:
    lora = {p.split(".", 1)[1] for p in specform.all_fields({"strategy": {"type": "lora"}})
            if p.startswith("strategy.")}  # fmt: skip
    assert {"type", "r", "alpha", "variant"} <= lora and "teacher" not in lora
    every = specform.all_fields({})
    assert every["strategy.type"].default == "finetune"
    assert every["train.epochs"].kind == "int" and every["train.epochs"].help
    assert every["deploy.quantization"].choices == ("auto", "int8", "none")
    assert set(specform.BASIC) <= set(every)


def test_set_value_writes_only_what_differs_and_clears_a_changed_variant() -> None:
    data: dict = {"strategy": {"type": "lora", "r": 4}}
    specform.set_value(data, "train.epochs", 3, 3)
    assert "train" not in data  # the default, never written
    specform.set_value(data, "train.epochs", 5, 3)
    specform.set_value(data, "strategy.type", "freeze", "finetune")
    assert data == {"strategy": {"type": "freeze"}, "train": {"epochs": 5}}
    assert specform.parse("1e-4") == pytest.approx(1e-4)
    assert specform.parse("[a, b]") == ["a", "b"]
    assert specform.dump({"task": {}, "name": "x", "etb": 1}).splitlines()[0] == "etb: 1"


def test_a_form_edit_keeps_the_comments_that_open_the_spec() -> None:
    old = "# yaml-language-server: $schema=x.json\n#\n# What this does.\n\netb: 1\n# inner\n"
    assert specform.with_header(old, "etb: 1\nname: a\n") == (
        "# yaml-language-server: $schema=x.json\n#\n# What this does.\netb: 1\nname: a\n"
    )
    assert specform.with_header("etb: 1\n", "etb: 1\n") == "etb: 1\n"
