"""NER: word tags onto sub-word tokens (first sub-word labelled, the rest ignored) and back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from etbuilder.data import Examples
from etbuilder.plan import TaskPlan
from etbuilder.runtime.encode import IGNORE, align_word_labels, encode_examples
from etbuilder.runtime.inference import Outputs, decode
from tests.fixtures import minilm_folder

LABELS = ["O", "B-location", "I-location", "B-person", "I-person"]


def ner_task(max_length: int = 64) -> TaskPlan:
    return TaskPlan(
        type="ner",
        labels=LABELS,
        head="linear",
        loss="token_cross_entropy",
        metric="entity_f1",
        metric_direction="maximize",
        pooling="none",
        max_length=max_length,
    )


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from etbuilder.runtime.encode import load_fast_tokenizer

    return load_fast_tokenizer(str(minilm_folder()))


def examples(words: list[list[str]], tags: list[list[str]] | None) -> Examples:
    return Examples(
        name="test",
        file="<memory>",
        texts=tuple(" ".join(w) for w in words),
        pairs=None,
        words=tuple(tuple(w) for w in words),
        labels=tuple(tuple(t) for t in tags) if tags is not None else (),
        lines=tuple(range(1, len(words) + 1)),
    )


def test_first_subword_gets_the_tag_and_the_others_are_ignored() -> None:
    targets, starts = align_word_labels([None, 0, 1, 1, 1, 2, None], [3, 4, 0])
    assert targets == [IGNORE, 3, 4, IGNORE, IGNORE, 0, IGNORE]
    assert starts == [-1, 0, 1, -1, -1, 2, -1]


def test_unlabelled_words_still_mark_their_first_token() -> None:
    targets, starts = align_word_labels([None, 0, 0, 1, None], None)
    assert targets == [IGNORE] * 5
    assert starts == [-1, 0, -1, 1, -1]


def test_real_tokenizer_alignment(tokenizer) -> None:  # type: ignore[no-untyped-def]
    words = [["Zqxelwyn", "visited", "Vlorkbastigan", "today"]]
    tags = [["B-person", "O", "B-location", "O"]]
    enc = encode_examples(examples(words, tags), ner_task(), tokenizer)
    ids = enc.sides[0].ids.tolist()
    pieces = tokenizer.convert_ids_to_tokens(ids)
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    assert len(pieces) > 6  # the names split into several word pieces
    targets = enc.token_targets.tolist()
    labelled = [(p, LABELS[t]) for p, t in zip(pieces, targets, strict=True) if t != IGNORE]
    assert [tag for _, tag in labelled] == tags[0]
    # each labelled piece is the start of its word (no ## continuation)
    assert all(not p.startswith("##") for p, _ in labelled)
    starts = enc.word_index.tolist()
    assert [s for s in starts if s >= 0] == [0, 1, 2, 3]


def test_truncated_words_are_predicted_outside(tokenizer) -> None:  # type: ignore[no-untyped-def]
    words = [["Paris"] + ["and"] * 30]
    enc = encode_examples(examples(words, None), ner_task(max_length=8), tokenizer)
    assert enc.token_targets is None
    n = int(enc.sides[0].lengths[0])
    assert n == 8
    logits = np.zeros((n, len(LABELS)), dtype=np.float32)
    logits[:, 1] = 5.0  # every token says B-location
    decoded = decode(Outputs([logits]), enc, examples(words, None), ner_task(max_length=8))
    tags = decoded.y_pred[0]
    assert len(tags) == len(words[0])
    kept = n - 2  # [CLS] and [SEP]
    assert tags[:kept] == ["B-location"] * kept
    assert tags[kept:] == ["O"] * (len(words[0]) - kept)


def test_unknown_tag_is_a_data_error(tokenizer) -> None:  # type: ignore[no-untyped-def]
    from etbuilder.errors import DataError

    with pytest.raises(DataError, match="B-planet"):
        encode_examples(examples([["Mars"]], [["B-planet"]]), ner_task(), tokenizer)


def test_minilm_folder_has_a_fast_tokenizer() -> None:
    assert Path(minilm_folder(), "tokenizer.json").is_file()
