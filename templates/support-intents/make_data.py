"""Recreate data/{train,validation,test}.csv from BANKING77 (run once; committed).

A small, balanced slice so that a CPU run takes minutes: 20 training and 5 validation questions
per intent from the official training file, 10 test questions per intent from the official test
file, each drawn with a fixed seed. A test question that also occurs in the training file (same text
after lower-casing and collapsing spaces) is not drawn, so the test score is not flattered:

    python templates/support-intents/make_data.py ../shared/data/banking77
"""

from __future__ import annotations

import csv
import random
import sys
from collections import defaultdict
from pathlib import Path

SEED = 13
PER_INTENT = {"train": 20, "validation": 5, "test": 10}


def by_intent(path: Path) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = defaultdict(list)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[row["category"]].append(row["text"].strip())
    return rows


def key(text: str) -> str:
    return " ".join(text.lower().split())


def main(source: Path) -> None:
    rng = random.Random(SEED)
    train, test = by_intent(source / "train.csv"), by_intent(source / "test.csv")
    known = {key(t) for texts in train.values() for t in texts}
    test = {i: [t for t in texts if key(t) not in known] for i, texts in test.items()}
    splits: dict[str, list[tuple[str, str]]] = {"train": [], "validation": [], "test": []}
    for intent in sorted(train):
        texts = rng.sample(train[intent], PER_INTENT["train"] + PER_INTENT["validation"])
        splits["train"] += [(t, intent) for t in texts[: PER_INTENT["train"]]]
        splits["validation"] += [(t, intent) for t in texts[PER_INTENT["train"] :]]
        splits["test"] += [(t, intent) for t in rng.sample(test[intent], PER_INTENT["test"])]
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    for name, rows in splits.items():
        rng.shuffle(rows)
        with (out / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["text", "intent"])
            writer.writerows(rows)
        print(name, len(rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
