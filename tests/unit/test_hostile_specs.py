"""Hostile spec files: each is refused cheaply, with one clear message, by both YAML parsers.

A spec that is (or expands to) more than `etbuilder.spec.limits` allows must be refused while
its YAML is turned into data, before the data is built, whatever the parser (libyaml's or
PyYAML's pure-Python one).
"""

from __future__ import annotations

import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from etbuilder.errors import SpecError
from etbuilder.spec import _yaml, limits
from etbuilder.spec.loader import check_spec_text, load_spec, load_spec_text

LOADERS = [pytest.param(_yaml._DepthLimitedLoader, id="python")]
if hasattr(yaml, "CSafeLoader"):
    LOADERS.append(pytest.param(yaml.CSafeLoader, id="libyaml"))

MEMORY_BOUND = 100 * 1024 * 1024
"""What refusing a hostile spec may allocate at most."""


def laughs(levels: int, width: int = 10) -> str:
    """`levels` nested aliases, each repeating the one below `width` times ("billion laughs")."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + f"\nname: *a{levels}\n"


def alias_chain(levels: int) -> str:
    """Each alias wraps the one below in one more list: deep, not wide."""
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\nname: *a{levels}\n"


def unknown_keys(count: int) -> str:
    return "name: x\n" + "".join(f"key{i}: {i}\n" for i in range(count))


@dataclass(frozen=True)
class Hostile:
    id: str
    text: str
    message: str
    """A part of the one problem's message (or of the last one, for `problems`)."""
    hint: str | None = None
    problems: int = 1


HOSTILE = [
    Hostile("laughs-5", laughs(5), "expands to more than 20,000 values", "fewer nested aliases"),
    Hostile("laughs-9", laughs(9), "expands to more than 20,000 values"),
    Hostile("laughs-40", laughs(40, width=3), "expands to more than 20,000 values"),
    Hostile("laughs-wide", laughs(2, width=200), "expands to more than 20,000 values"),
    Hostile("alias-chain", alias_chain(200), "more than 64 levels deep", "no spec section"),
    Hostile("deep-flow", "name: " + "[" * 5000 + "]" * 5000, "maximum nesting depth"),
    Hostile(
        "deep-block",  # the Python parser stops it while composing, libyaml's is caught later
        "name:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 400)),
        "nest",
        "no spec section",
    ),
    Hostile(
        "oversized",
        "name: x\ndescription: " + "x" * (limits.MAX_SPEC_BYTES + 10) + "\n",
        "a spec file may be at most 256.0 KiB",
        "data belongs in the files",
    ),
    Hostile("unknown-keys", unknown_keys(15_000), "unknown key", problems=101),
    Hostile(
        "tab-indent",
        "name: x\ntask:\n\ttype: classification\n",
        "not valid YAML",
        "YAML indents with spaces, not tabs",
    ),
    Hostile(
        "tab-after-spaces",
        "name: x\ntask:\n  type: classification\n\tlabel: y\n",
        "not valid YAML",
        "YAML indents with spaces, not tabs",
    ),
]


@pytest.fixture(params=LOADERS)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> type:
    monkeypatch.setattr(_yaml, "_LOADER", request.param)
    return request.param  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
def test_hostile_spec_is_refused_cheaply_with_one_clear_message(
    case: Hostile, loader: type
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(SpecError) as raised:
            load_spec_text(case.text, file="hostile.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    problems = raised.value.problems
    assert len(problems) == case.problems, raised.value.render()
    found = [p for p in problems if case.message in p.message]
    assert found, raised.value.render()
    if case.hint is not None:
        assert case.hint in (found[0].hint or ""), raised.value.render()
    assert all(p.file == "hostile.yaml" for p in problems)
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB allocated to refuse it"


def test_too_many_problems_are_summed_up_not_listed(loader: type) -> None:
    with pytest.raises(SpecError) as raised:
        load_spec_text(unknown_keys(15_000), file="s.yaml")
    summary = [p for p in raised.value.problems if "more problems" in p.message]
    assert len(summary) == 1
    # name, data and task checked: 15,000 unknown keys + 2 missing ones, 100 described
    assert summary[0].message.startswith("14,902 more problems")


def test_a_spec_within_the_limits_still_loads(loader: type) -> None:
    # aliases are fine while they expand to a reasonable size
    text = """\
        name: aliases
        data: {train: train.csv}
        labels: &labels [ham, spam]
        task: {type: classification, text: text, label: label, labels: *labels}
        """
    with pytest.raises(SpecError) as raised:  # `labels` at the top level is not a spec key
        load_spec_text(text.replace("        ", ""))
    assert [p.path for p in raised.value.problems] == ["labels"]


def test_an_oversized_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:  # sparse: 1 GiB on paper, nothing on disk
        handle.truncate(1024**3)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert "the spec is 1024.0 MiB" in raised.value.render()


def test_override_values_have_the_same_budget() -> None:
    text = "name: t\ndata: {train: t.csv}\ntask: {type: classification, text: a, label: b}\n"
    bomb = laughs(6).replace("\n", ", ").replace("name: *a6, ", "")
    with pytest.raises(SpecError) as raised:
        load_spec_text(text, overrides=[f"description={{{bomb}}}"])
    assert "expands to more than 20,000 values" in raised.value.render()


def test_the_editor_check_applies_the_same_limits(loader: type) -> None:
    check_spec_text("name: x\n")  # not a valid spec, but within the limits
    with pytest.raises(SpecError, match="expands to more than 20,000 values"):
        check_spec_text(laughs(9), file="editor")
