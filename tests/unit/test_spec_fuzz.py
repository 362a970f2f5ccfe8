"""Whatever text arrives, the loader answers with a Spec or a SpecError, never anything else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etbuilder.errors import SpecError
from etbuilder.spec import Spec
from etbuilder.spec.loader import load_spec_text
from tests.specs import VALID_SPECS

TEXTS = [p.read_text(encoding="utf-8") for p in VALID_SPECS]
KEYS = ["name", "type", "train", "epochs", "text", "r", "space", "<<", "etb", "task", "x.y", ""]
VALUES = [
    "",
    "~",
    "null",
    "[",
    "{",
    "]",
    "- a",
    "&a",
    "*a",
    "!!binary AA==",
    "${X}",
    "1e999",
    "-3",
    "true",
    "[1, {a: b}]",
    "'unterminated",
    "\t",
    "\x00",
    "\ufeff",
    "lora",
    "2.5",
]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str, overrides: list[str] | None = None) -> None:
    try:
        spec = load_spec_text(text, file="f.yaml", base_dir="/d", overrides=overrides or [], env={})
    except SpecError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.line is None or problem.line >= 1
            assert problem.column is None or problem.column >= 1
            assert problem.render()
    else:
        assert isinstance(spec, Spec)


@SETTINGS
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    check(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(TEXTS)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "key", "value", "indent"]))
        line = lines[at] if lines else ""
        if kind == "delete" and lines:
            del lines[at]
        elif kind == "duplicate":
            lines.insert(at, line)
        elif kind == "swap" and len(line) > 1:
            i = draw(st.integers(0, len(line) - 2))
            lines[at] = line[:i] + line[i + 1] + line[i] + line[i + 2 :]
        elif kind == "key":
            indent = " " * draw(st.sampled_from([0, 2, 4, 1]))
            key = draw(st.sampled_from(KEYS) | st.text(min_size=1, max_size=8))
            value = draw(st.sampled_from(VALUES) | st.text(max_size=8))
            lines.insert(at, f"{indent}{key}: {value}")
        elif kind == "value" and ":" in line:
            value = draw(st.sampled_from(VALUES) | st.text(max_size=8))
            lines[at] = line.split(":", 1)[0] + ": " + value
        elif kind == "indent":
            lines[at] = " " + line
    return "\n".join(lines) + "\n"


@SETTINGS
@given(mutated())
def test_mutated_valid_specs(text: str) -> None:
    check(text)


@SETTINGS
@given(
    st.sampled_from(TEXTS),
    st.lists(
        st.builds(
            lambda k, v: f"{k}={v}",
            st.sampled_from(
                [
                    "train.epochs",
                    "strategy.r",
                    "tune.space.a",
                    "task",
                    "name",
                    "x.y",
                    "backbone.max_length",
                    "deploy.formats",
                    "",
                    "train..",
                ]
            ),
            st.sampled_from(VALUES) | st.text(max_size=8),
        )
        | st.text(max_size=12),
        max_size=3,
    ),
)
def test_random_overrides(text: str, overrides: list[str]) -> None:
    check(text, overrides)
