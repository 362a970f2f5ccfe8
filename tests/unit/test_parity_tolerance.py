"""The ONNX parity check: 1e-4 absolute for outputs up to 1, 1e-4 of the largest output beyond."""

from __future__ import annotations

import numpy as np

from etbuilder.package.export import PARITY_TOLERANCE, parity_allowed


def test_parity_is_absolute_for_small_outputs_and_relative_for_large_ones() -> None:
    assert parity_allowed(np.array([[0.2, -0.9]], dtype=np.float32)) == PARITY_TOLERANCE
    assert parity_allowed(np.zeros((0, 2), dtype=np.float32)) == PARITY_TOLERANCE
    logits = np.array([[3.0, -25.0], [12.0, 1.0]], dtype=np.float32)  # a weakly regularised head
    assert parity_allowed(logits) == PARITY_TOLERANCE * 25.0
    assert parity_allowed(np.array([0.5])) < 1.21e-4
    assert parity_allowed(logits) >= 1.21e-4, "fp32 rounding at this size is not a bad export"
