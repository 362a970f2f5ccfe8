"""Save the served model as onnxruntime optimized it, so that the app's start skips optimizing.

Creating an onnxruntime session runs its graph optimizations (fusions, constant folding) and
copies every weight out of the protobuf: about 0.15-0.3 s for minilm-l6 int8. Done once here,
at packaging time, with the app's own session options (`inference.session_options`, the same
disabled rewrites), the graph is saved with its weights in a side file that onnxruntime maps
into memory; the app then loads it with optimizations off in about 0.05 s. Only the
`extended` level is saved: it holds no hardware-specific layout (onnxruntime's advice for
saved graphs). It is the only copy of the served graph in the app (one graph, not two), so the
app's requirements ask for at least the onnxruntime version that wrote it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

MIN_EXTERNAL_BYTES = 1024
"""Initializers from this size go to the side file (memory-mapped at load)."""


def save_optimized(src: Path, dest: Path, feeds: dict[str, np.ndarray]) -> dict[str, Any]:
    """Write the optimized graph of `src` to `dest` (plus `dest.data`); returns its manifest
    entry, or {} when the optimized graph does not answer as `src` does (then nothing is
    written and the caller ships `src` itself).

    `feeds` (padded sample inputs) check that the saved graph answers as the plain one does:
    bit for bit is not promised across fusions, so outputs must agree within 1e-5.
    """
    import onnxruntime as ort

    from etbuilder.package.app_template.inference import (
        DISABLED_OPTIMIZERS,
        session,
        session_options,
    )

    data = dest.name + ".data"
    dest.parent.mkdir(parents=True, exist_ok=True)
    options = session_options(threads=1)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(dest)
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_file_name", data
    )
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_min_size_in_bytes", str(MIN_EXTERNAL_BYTES)
    )
    plain = ort.InferenceSession(
        str(src),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=list(DISABLED_OPTIMIZERS),
    )
    names = [i.name for i in plain.get_inputs()]
    inputs = {n: feeds[n] for n in names}
    expected = plain.run(None, inputs)[0]
    got = session(dest, threads=1, optimize=False).run(None, inputs)[0]
    diff = float(np.abs(np.asarray(got, np.float64) - np.asarray(expected, np.float64)).max())
    files = [dest, dest.parent / data]
    if got.shape != expected.shape or not diff <= 1e-5:
        for f in files:
            f.unlink(missing_ok=True)
        return {}
    return {
        "data": data,
        "onnxruntime": ort.__version__,
        "level": "extended",
        "max_abs_diff_vs_plain": diff,
        "bytes": sum(f.stat().st_size for f in files if f.is_file()),
    }
