"""What an app may disclose: spec values read from private environment variables are known
to the loader, and the scrubber cuts them and build folders out of the app's texts."""

from __future__ import annotations

import pytest

from etbuilder.package.disclosure import public_name, scrub_text
from etbuilder.spec.loader import load_spec_text

SPEC = """\
name: t
description: "call ${SUPPORT_TOKEN}"
data: {train: "${DATA_DIR}/train.csv", test: "${TEST_FILE:-test.csv}"}
task: {type: classification, text: text, label: label}
deploy: {public_env: [DATA_DIR]}
"""


def test_loader_records_which_values_came_from_private_variables() -> None:
    env = {"SUPPORT_TOKEN": "tok-123", "DATA_DIR": "/srv/data"}
    spec = load_spec_text(SPEC, env=env)
    assert spec.description == "call tok-123"
    # DATA_DIR is public; a default written in the spec is not from the environment
    assert spec.environment_values == {"description": ["SUPPORT_TOKEN"]}


def test_a_value_survives_copies_of_the_spec() -> None:
    spec = load_spec_text(SPEC, env={"SUPPORT_TOKEN": "tok-123", "DATA_DIR": "/d"})
    assert spec.model_copy(update={"name": "u"}).environment_values == spec.environment_values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("built from /build/runs/x (spec)", "built from . (spec)"),
        ("rows of /build/runs/x/test.tsv", "rows of test.tsv"),
        ('"created_from": "/build/runs/x"', '"created_from": "."'),
        ("/build/runs/xy stays: another folder", "/build/runs/xy stays: another folder"),
        ("description: call tok-123 now", "description: ${SUPPORT_TOKEN} now"),
        ('"quote \\"tok\\" 1"', '"${Q}"'),
        ("/v1/predict is an API path", "/v1/predict is an API path"),
    ],
)
def test_scrub_text(text: str, expected: str) -> None:
    secrets = {"call tok-123": "${SUPPORT_TOKEN}", 'quote "tok" 1': "${Q}"}
    assert scrub_text(text, secrets, ["/build/runs/x"]) == expected


def test_public_name() -> None:
    assert public_name("/home/me/data/train.tsv") == "train.tsv"
    assert public_name("data/train.tsv") == "data/train.tsv"
