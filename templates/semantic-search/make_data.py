"""Recreate data/{train,validation,test}.csv from the STS Benchmark (run once; committed).

A slice so that a CPU run takes minutes: 2,000 training pairs, 300 validation pairs (from the
dev split) and 500 test pairs, drawn with a fixed seed from the official splits, written with a
`sentence1,sentence2,score` header. Repeated pairs are dropped, and so are validation and test
pairs that also occur in the training file, so the test score is not flattered:

    python templates/semantic-search/make_data.py ../shared/data/stsb
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

SEED = 29
SIZES = {"train": 2000, "dev": 300, "test": 500}
NAMES = {"train": "train", "dev": "validation", "test": "test"}


def key(row: list[str]) -> str:
    return " ".join(" ".join(row[:2]).lower().split())


def main(source: Path) -> None:
    rng = random.Random(SEED)
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    seen: set[str] = set()
    for split, size in SIZES.items():
        with (source / f"stsb-en-{split}.csv").open(encoding="utf-8", newline="") as handle:
            rows = []
            for row in csv.reader(handle):
                if len(row) == 3 and key(row) not in seen:
                    seen.add(key(row))
                    rows.append(row)
        rows = rng.sample(rows, size)
        with (out / f"{NAMES[split]}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["sentence1", "sentence2", "score"])
            writer.writerows(rows)
        print(NAMES[split], len(rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
