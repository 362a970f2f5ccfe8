"""The quality gate's sample of a large split: stratified by label, and its margin stated."""

from __future__ import annotations

import math

from etbuilder.package.evalset import _sample
from etbuilder.package.quality import sample_margin


def test_a_large_split_is_sampled_in_proportion_to_its_labels() -> None:
    common = list(range(0, 18000, 2))  # 9,000 rows of one label
    rare = list(range(1, 2001, 2))  # 1,000 of another
    rows = _sample([common, rare], 10_000, 1000)
    assert rows == sorted(set(rows)) and len(rows) == 1000
    assert sum(r in set(rare) for r in rows) == 100
    picked_rare = [r for r in rows if r % 2 == 1]
    assert picked_rare[0] == 1 and picked_rare[-1] > 1900  # spread over the label's rows


def test_a_label_too_rare_for_its_share_still_gets_a_row() -> None:
    rows = _sample([list(range(5000)), [5000]], 5001, 100)
    assert 5000 in rows


def test_a_split_within_the_bound_is_measured_whole() -> None:
    assert _sample([[0, 2], [1]], 3, 1000) == [0, 1, 2]


def test_the_margin_is_zero_on_a_whole_split_and_shrinks_with_the_sample() -> None:
    assert sample_margin(0.99, 872, None) == 0.0
    assert sample_margin(0.99, 872, 872) == 0.0
    expected = 1.96 * math.sqrt(0.01 / 1000 * (67349 - 1000) / 67348) * 100
    assert math.isclose(sample_margin(0.99, 1000, 67349), expected, abs_tol=1e-3)
    assert sample_margin(0.99, 4000, 67349) < sample_margin(0.99, 1000, 67349)
    assert sample_margin(1.0, 1000, 67349) == 0.0  # int8 changed no label in the sample
