"""Every file of the shared datasets reads with the right options, to the README's exact counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from etbuilder.data import read_split, resolve_source
from etbuilder.errors import DataError
from etbuilder.spec.data import DataSpec

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data not found at {DATA}")

CASES = [
    # (file, data-spec options, rows, (column, expected label counts) or None)
    ("sst2_glue/train.tsv", {}, 60614, ("label", {"0": 26786, "1": 33828})),
    ("sst2_glue/dev.tsv", {}, 6735, None),
    ("sst2_glue/test.tsv", {}, 872, None),
    ("ag_news/dev.tsv", {"header": False, "columns": ["text", "label"]}, 10001, None),
    (
        "ag_news/test.tsv",
        {"header": False, "columns": ["text", "label"]},
        7600,
        ("label", {"World": 1900, "Sports": 1900, "Business": 1900, "Sci/Tech": 1900}),
    ),
    ("banking77/train.csv", {}, 10003, None),
    ("banking77/test.csv", {}, 3080, None),
    *[
        (
            f"mrpc/msr_paraphrase_{split}.txt",
            {
                "format": "tsv",
                "header": False,
                "quoting": False,
                "encoding": "utf-8-sig",
                "columns": ["quality", "id1", "id2", "sentence1", "sentence2"],
            },
            rows,
            ("quality", counts),
        )
        for split, rows, counts in [
            ("train", 4076, {"1": 2753, "0": 1323}),
            ("test", 1725, {"1": 1147, "0": 578}),
        ]
    ],
    *[
        (f"stsb/stsb-en-{split}.csv", {"header": False}, rows, None)
        for split, rows in [("train", 5749), ("dev", 1500), ("test", 1379)]
    ],
    ("wnut17/wnut17train.conll", {}, 3394, None),
    ("wnut17/emerging.dev.conll", {}, 1009, None),
    ("wnut17/emerging.test.annotated", {}, 1287, None),
    (
        "sms_spam/SMSSpamCollection",
        {"format": "tsv", "header": False, "quoting": False, "columns": ["label", "text"]},
        5574,
        ("label", {"ham": 4827, "spam": 747}),
    ),
]


@pytest.mark.parametrize(("file", "options", "rows", "labels"), CASES, ids=[c[0] for c in CASES])
def test_shared_file_reads_exactly(
    file: str, options: dict[str, object], rows: int, labels: tuple[str, dict[str, int]] | None
) -> None:
    spec = DataSpec.model_validate({"train": str(DATA / file), **options})
    source = resolve_source(spec, "train")
    assert source is not None
    table = read_split(source)
    assert table.num_rows == rows
    if labels is not None:
        column, counts = labels
        assert dict(Counter(table.column(column))) == counts


def test_mrpc_first_row_is_clean() -> None:
    spec = DataSpec.model_validate(
        {
            "train": str(DATA / "mrpc/msr_paraphrase_train.txt"),
            "format": "tsv",
            "header": False,
            "quoting": False,
            "encoding": "utf-8-sig",
        }
    )
    source = resolve_source(spec, "train")
    assert source is not None
    row = read_split(source).row(0)
    assert row["column1"] == "1"  # no BOM glued to the label
    assert row["column4"].startswith('Amrozi accused his brother, whom he called "the witness"')


def test_sms_spam_with_quoting_on_is_refused_not_misread() -> None:
    spec = DataSpec.model_validate(
        {"train": str(DATA / "sms_spam/SMSSpamCollection"), "format": "tsv", "header": False}
    )
    source = resolve_source(spec, "train")
    assert source is not None
    with pytest.raises(DataError) as info:
        read_split(source)
    assert "quoting: false" in (info.value.hint or "")


def test_wnut17_tokens_and_tags_align() -> None:
    spec = DataSpec.model_validate({"train": str(DATA / "wnut17/wnut17train.conll")})
    source = resolve_source(spec, "train")
    assert source is not None
    table = read_split(source)
    tokens, tags = table.column("tokens"), table.column("tags")
    assert all(len(a) == len(b) for a, b in zip(tokens, tags, strict=True))
    assert sum(map(len, tokens)) == 62730
    assert len({t for sent in tags for t in sent}) == 13


def test_mrpc_with_quoting_on_points_at_the_first_bare_quote() -> None:
    spec = DataSpec.model_validate(
        {
            "train": str(DATA / "mrpc/msr_paraphrase_train.txt"),
            "header": False,
            "encoding": "utf-8-sig",
        }
    )
    source = resolve_source(spec, "train")
    assert source is not None and source.format == "tsv"  # .txt reads as tsv
    with pytest.raises(DataError) as info:
        read_split(source)
    assert info.value.row == 10 and "a tab expected" in info.value.message
    assert "quoting: false" in (info.value.hint or "")
