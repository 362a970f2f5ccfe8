"""The packaged app's int8 graph with and without onnxruntime's SkipLayerNormFusion, side by side.

    .venv/bin/python bench/serve_graph_rewrites.py runs/sst2-full

In-process throughput on the 872 sst2_glue test sentences at batch 1 and 32, best of 3
interleaved rounds; the two sessions differ only in `disabled_optimizers`.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT.parent / "shared" / "data" / "sst2_glue" / "test.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder with an app/ (e.g. runs/sst2-full)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    app = args.run / "app"
    sys.path.insert(0, str(app))
    import onnxruntime as ort
    from inference import Predictor, session_options

    with TEST.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    texts = [row[0] for row in rows]
    model = "onnx/model.int8.onnx"
    predictor = Predictor(app, model_file=model, spin=False)

    def open_session(disabled: list[str] | None) -> ort.InferenceSession:
        options = session_options(predictor.threads, spin=False, optimize=True)
        return ort.InferenceSession(
            str(app / model),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=disabled,
        )

    variants = {
        "SkipLayerNorm fused (onnxruntime default)": open_session(None),
        "SkipLayerNormFusion off (the app)": open_session(["SkipLayerNormFusion"]),
    }
    best: dict[str, dict[int, float]] = {name: {1: 0.0, 32: 0.0} for name in variants}
    for _ in range(args.rounds):
        for name, session in variants.items():
            predictor.session = session
            for batch in (1, 32):
                start = time.perf_counter()
                for i in range(0, len(texts), batch):
                    predictor.forward(predictor.encode(texts[i : i + batch]))
                rate = len(texts) / (time.perf_counter() - start)
                best[name][batch] = max(best[name][batch], rate)
    for name, rates in best.items():
        print(f"{name}: batch 1 {rates[1]:.1f}, batch 32 {rates[32]:.1f} sentences/s")
    off, on = (
        best["SkipLayerNormFusion off (the app)"],
        best["SkipLayerNorm fused (onnxruntime default)"],
    )
    print(f"ratio off/on: batch 1 x{off[1] / on[1]:.2f}, batch 32 x{off[32] / on[32]:.2f}")


if __name__ == "__main__":
    main()
