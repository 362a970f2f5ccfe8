"""Recreate data/{train,validation,test}.csv: question pairs built from BANKING77 (run once).

BANKING77 groups customer questions by intent. Two questions of the same intent ask the same
thing (`duplicate`); a question paired with one of a *related* intent (an intent sharing a word
of its name, e.g. `card_arrival` / `card_delivery_estimate`) asks something else (`different`).
Related intents make the negatives hard, as real near-duplicate FAQ entries are. Half of the
pairs are duplicates. Train and validation pairs come from the official training file, test
pairs from the official test file, so no question is in both:

    python templates/faq-duplicates/make_data.py ../shared/data/banking77
"""

from __future__ import annotations

import csv
import random
import sys
from collections import defaultdict
from pathlib import Path

SEED = 13
PAIRS = {"train": 1200, "validation": 200, "test": 400}


def by_intent(path: Path) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = defaultdict(list)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[row["category"]].append(row["text"].strip())
    return rows


def related(intents: list[str]) -> dict[str, list[str]]:
    words = {
        i: set(i.lower().strip("?").split("_")) - {"or", "my", "by", "to", "of"} for i in intents
    }
    return {
        i: [j for j in intents if j != i and words[i] & words[j]] or [j for j in intents if j != i]
        for i in intents
    }


def pairs(rows: dict[str, list[str]], n: int, rng: random.Random) -> list[tuple[str, str, str]]:
    intents = sorted(rows)
    near = related(intents)
    out: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    while len(out) < n:
        intent = rng.choice(intents)
        first = rng.choice(rows[intent])
        if len(out) % 2 == 0:
            second, label = rng.choice(rows[intent]), "duplicate"
        else:
            second, label = rng.choice(rows[rng.choice(near[intent])]), "different"
        if first != second and (first, second) not in seen:
            seen.add((first, second))
            out.append((first, second, label))
    rng.shuffle(out)
    return out


def main(source: Path) -> None:
    rng = random.Random(SEED)
    train = by_intent(source / "train.csv")
    held: dict[str, list[str]] = {}
    for intent, texts in train.items():
        rng.shuffle(texts)
        held[intent], train[intent] = texts[:10], texts[10:]
    splits = {
        "train": pairs(train, PAIRS["train"], rng),
        "validation": pairs(held, PAIRS["validation"], rng),
        "test": pairs(by_intent(source / "test.csv"), PAIRS["test"], rng),
    }
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    for name, rows in splits.items():
        with (out / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["question", "faq_question", "label"])
            writer.writerows(rows)
        print(name, len(rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
