"""Recreate data/{train,validation,test}.csv: pairs of banking questions, same request or not.

Built from BANKING77 (CC BY 4.0): two customer messages with the same intent ask for the same
thing in other words ("my card got eaten" / "the ATM kept my card"), so a search for one should
find the other. Each pair is scored 1 (same intent) or 0 (different intents); half of the
different pairs are hard ones, from an intent sharing a word with the first (card_arrival /
card_delivery_estimate), because those are the pairs a keyword search confuses.

Training and validation pairs come from disjoint halves of the official train split's texts
(no message is in both), test pairs from the official test split: 1,000 training, 300
validation and 400 test pairs, drawn with a fixed seed:

    python templates/semantic-search/make_data.py ../shared/data/banking77
"""

from __future__ import annotations

import csv
import random
import sys
from collections import defaultdict
from pathlib import Path

SEED = 29
SIZES = {"train": 1000, "validation": 300, "test": 400}


def by_intent(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for text, intent in rows:
        grouped[intent].append(" ".join(text.split()))
    return {k: v for k, v in grouped.items() if len(v) >= 2}


def close_intents(intents: list[str]) -> dict[str, list[str]]:
    """For each intent, the others sharing a word of their name (card_arrival ~ card_linking)."""
    words = {i: set(i.split("_")) - {"or", "a", "the", "is", "not"} for i in intents}
    return {i: [j for j in intents if j != i and words[i] & words[j]] for i in intents}


def pairs(rng: random.Random, texts: dict[str, list[str]], size: int) -> list[list[str]]:
    intents = sorted(texts)
    close = close_intents(intents)
    rows: list[list[str]] = []
    seen: set[tuple[str, str]] = set()
    while len(rows) < size:
        intent = rng.choice(intents)
        first = rng.choice(texts[intent])
        kind = rng.random()
        if kind < 0.5:
            second, score = rng.choice([t for t in texts[intent] if t != first]), "1"
        else:
            pool = close[intent] if kind < 0.75 and close[intent] else intents
            other = rng.choice([i for i in pool if i != intent])
            second, score = rng.choice(texts[other]), "0"
        if (first, second) in seen or (second, first) in seen:
            continue
        seen.add((first, second))
        rows.append([first, second, score])
    return rows


def read(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(r["text"], r["category"]) for r in csv.DictReader(handle)]


def main(source: Path) -> None:
    rng = random.Random(SEED)
    train_rows = read(source / "train.csv")
    rng.shuffle(train_rows)
    half = len(train_rows) // 2
    splits = {
        "train": by_intent(train_rows[:half]),
        "validation": by_intent(train_rows[half:]),
        "test": by_intent(read(source / "test.csv")),
    }
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    for split, size in SIZES.items():
        rows = pairs(rng, splits[split], size)
        with (out / f"{split}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["sentence1", "sentence2", "score"])
            writer.writerows(rows)
        print(split, len(rows))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
