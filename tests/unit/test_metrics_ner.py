"""Entity-level NER metrics: hand-computed cases of seqeval's default (conlleval) behaviour.

Every expected number below is worked out by hand in the comment above it.
"""

from __future__ import annotations

import pytest

from etbuilder.report.metrics import compute_metrics
from etbuilder.report.ner_metrics import get_entities


def ner(y_true: list[list[str]], y_pred: list[list[str]]) -> dict:
    return compute_metrics("ner", y_true, y_pred, labels=[])


def prf(m: dict) -> tuple[float, float, float]:
    return m["entity_precision"], m["entity_recall"], m["entity_f1"]


def test_exact_match() -> None:
    # true = pred = {PER[0..1], LOC[3]}: tp 2 of 2 predicted, 2 true -> 1/1/1; 4/4 tokens.
    tags = [["B-PER", "I-PER", "O", "B-LOC"]]
    m = ner(tags, tags)
    assert prf(m) == (1.0, 1.0, 1.0)
    assert m["token_accuracy"] == 1.0
    assert m["per_class"] == {
        "LOC": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
        "PER": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
    }


def test_wrong_type_is_a_miss_and_a_false_alarm() -> None:
    # true {PER[0..1]}, pred {ORG[0..1]}: same span, other type -> tp 0: P 0/1, R 0/1, F 0.
    # ORG: 1 predicted, none true -> P 0, support 0. PER: none predicted -> P 0 (0/0), R 0/1.
    m = ner([["B-PER", "I-PER", "O"]], [["B-ORG", "I-ORG", "O"]])
    assert prf(m) == (0.0, 0.0, 0.0)
    assert m["per_class"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["per_class"]["PER"]["support"] == 1
    assert m["token_accuracy"] == pytest.approx(1 / 3)  # only the O matches


def test_partial_span_counts_as_wrong() -> None:
    # true {PER[0..2], LOC[4]}, pred {PER[0..1], LOC[4]}: only LOC matches exactly.
    # tp 1, predicted 2, true 2 -> P 0.5, R 0.5, F 0.5. Tokens: index 2 differs -> 4/5.
    m = ner(
        [["B-PER", "I-PER", "I-PER", "O", "B-LOC"]],
        [["B-PER", "I-PER", "O", "O", "B-LOC"]],
    )
    assert prf(m) == pytest.approx((0.5, 0.5, 0.5))
    assert m["token_accuracy"] == pytest.approx(0.8)
    assert m["per_class"]["PER"]["f1"] == 0.0
    assert m["per_class"]["LOC"]["f1"] == 1.0


def test_i_without_b_starts_an_entity() -> None:
    # conlleval/seqeval default: an I-X after O (or at sentence start) opens an X entity.
    # sentence 0 pred I-PER I-PER -> PER[0..1] = true B-PER I-PER; sentence 1 pred O I-LOC I-LOC
    # -> LOC[1..2] = true. tp 2/2/2 -> 1/1/1, though 2 of 6 tokens differ (4/6).
    m = ner(
        [["B-PER", "I-PER", "O"], ["O", "B-LOC", "I-LOC"]],
        [["I-PER", "I-PER", "O"], ["O", "I-LOC", "I-LOC"]],
    )
    assert prf(m) == (1.0, 1.0, 1.0)
    assert m["token_accuracy"] == pytest.approx(4 / 6)


def test_adjacent_entities_of_the_same_type() -> None:
    # true B-PER B-PER O B-LOC = {PER[0], PER[1], LOC[3]}; pred B-PER B-PER O O = {PER[0], PER[1]}.
    # tp 2, predicted 2, true 3 -> P 1, R 2/3, F 2*(2/3)/(5/3) = 0.8.
    # PER 1/1/1 (support 2), LOC 0/0/0 (support 1): macro (1+0)/2 = 0.5, weighted (2*1+0)/3.
    m = ner([["B-PER", "B-PER", "O", "B-LOC"]], [["B-PER", "B-PER", "O", "O"]])
    assert prf(m) == pytest.approx((1.0, 2 / 3, 0.8))
    assert m["f1_macro"] == pytest.approx(0.5)
    assert m["f1_weighted"] == pytest.approx(2 / 3)
    assert m["per_class"]["PER"]["support"] == 2


def test_merging_two_adjacent_entities_is_wrong() -> None:
    # true {PER[0], PER[1]}; pred B-PER I-PER = {PER[0..1]}: tp 0 -> P 0/1, R 0/2, F 0.
    m = ner([["B-PER", "B-PER", "O"]], [["B-PER", "I-PER", "O"]])
    assert prf(m) == (0.0, 0.0, 0.0)
    assert m["entities"] == 2


def test_entity_at_sentence_end_and_no_entity_across_sentences() -> None:
    # Sentence 0 ends with LOC[1..2]; sentence 1 starts with I-LOC, which opens a new LOC[0]
    # there: entities never continue across sentences. true {s0 LOC[1..2], s1 LOC[0]};
    # pred {s0 LOC[1..2], s1 LOC[0]} (B- instead of I- does not matter) -> 1/1/1.
    m = ner(
        [["O", "B-LOC", "I-LOC"], ["I-LOC", "O"]],
        [["O", "B-LOC", "I-LOC"], ["B-LOC", "O"]],
    )
    assert prf(m) == (1.0, 1.0, 1.0)
    assert m["entities"] == 2
    assert m["token_accuracy"] == pytest.approx(4 / 5)


def test_empty_predictions() -> None:
    # Model predicts only O: 0 predicted -> P 0/0 = 0.0, R 0/2 = 0, F 0; tokens 1 of 3 (the O).
    m = ner([["B-PER", "O", "B-LOC"]], [["O", "O", "O"]])
    assert prf(m) == (0.0, 0.0, 0.0)
    assert m["token_accuracy"] == pytest.approx(1 / 3)
    assert m["per_class"]["PER"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_all_o_everywhere() -> None:
    # No entity on either side: every ratio is 0/0 -> 0.0; no entity types; tokens all right.
    m = ner([["O", "O"], ["O"]], [["O", "O"], ["O"]])
    assert prf(m) == (0.0, 0.0, 0.0)
    assert m["per_class"] == {}
    assert m["f1_macro"] == 0.0
    assert m["token_accuracy"] == 1.0
    assert m["tokens"] == 3


def test_type_change_splits_the_entity() -> None:
    # pred B-PER I-LOC B-LOC: I-LOC after a PER closes PER[0] and opens LOC[1]; B-LOC closes it
    # and opens LOC[2]. pred {PER[0], LOC[1], LOC[2]}, true {PER[0], LOC[2]}: tp 2 -> P 2/3, R 1,
    # F 2*(2/3)/(5/3) = 0.8; LOC: tp 1, predicted 2, true 1 -> P 0.5, R 1, F 2/3.
    m = ner([["B-PER", "O", "B-LOC"]], [["B-PER", "I-LOC", "B-LOC"]])
    assert prf(m) == pytest.approx((2 / 3, 1.0, 0.8))
    assert m["per_class"]["LOC"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["LOC"]["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["PER"]["f1"] == 1.0


def test_get_entities_bio_and_iobes() -> None:
    assert get_entities(["B-PER", "I-PER", "O", "I-LOC"]) == [("PER", 0, 0, 1), ("LOC", 0, 3, 3)]
    assert get_entities(["B-PER", "I-LOC", "I-LOC"]) == [("PER", 0, 0, 0), ("LOC", 0, 1, 2)]
    assert get_entities(["S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"], sentence=3) == [
        ("PER", 3, 0, 0),
        ("LOC", 3, 1, 3),
        ("LOC", 3, 4, 4),
    ]
    assert get_entities(["B-product", "I-product"]) == [("product", 0, 0, 1)]  # wnut17 style
    assert get_entities([]) == []


def test_integer_tags_map_through_labels() -> None:
    labels = ["O", "B-PER", "I-PER"]
    m = compute_metrics("ner", [[1, 2, 0]], [[1, 2, 0]], labels=labels)
    assert prf(m) == (1.0, 1.0, 1.0)


def test_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="sentence 0 has 2 true tags but 1"):
        ner([["B-PER", "O"]], [["B-PER"]])
    with pytest.raises(ValueError, match="1 true sentences but 2"):
        ner([["O"]], [["O"], ["O"]])
