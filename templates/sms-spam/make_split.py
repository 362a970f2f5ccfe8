"""Recreate data/{train,validation,test}.tsv from the SMS Spam Collection (run once; committed).

Exact duplicate messages are dropped first (the collection repeats some promotions many times;
keeping them would put the same text in train and test and flatter the test score). Then a
stratified 80/10/10 split with a fixed seed, so the files are reproducible:

    python templates/sms-spam/make_split.py ../shared/data/sms_spam/SMSSpamCollection
"""

from __future__ import annotations

import random
import sys
from collections import defaultdict
from pathlib import Path

SEED = 13
FRACTIONS = {"validation": 0.1, "test": 0.1}


def main(source: Path) -> None:
    rows: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    with source.open(encoding="utf-8", newline="") as handle:
        for line in handle:
            label, text = line.rstrip("\r\n").split("\t", 1)
            key = " ".join(text.lower().split())
            if key not in seen:
                seen.add(key)
                rows[label].append(text)
    splits: dict[str, list[tuple[str, str]]] = {"train": [], "validation": [], "test": []}
    rng = random.Random(SEED)
    for label in sorted(rows):
        texts = rows[label][:]
        rng.shuffle(texts)
        n_val = round(len(texts) * FRACTIONS["validation"])
        n_test = round(len(texts) * FRACTIONS["test"])
        splits["validation"] += [(label, t) for t in texts[:n_val]]
        splits["test"] += [(label, t) for t in texts[n_val : n_val + n_test]]
        splits["train"] += [(label, t) for t in texts[n_val + n_test :]]
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    for name, pairs in splits.items():
        rng.shuffle(pairs)
        with (out / f"{name}.tsv").open("w", encoding="utf-8", newline="\n") as handle:
            handle.write("label\ttext\n")
            handle.writelines(f"{label}\t{text}\n" for label, text in pairs)
        print(name, len(pairs))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
