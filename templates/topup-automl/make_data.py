"""Recreate data/topups.csv: 600 BANKING77 questions about topping up, one file, no split.

The scenario starts from a bare labelled file, as a support desk would export it: a message
column and the intent its agent chose. Ten BANKING77 (CC BY 4.0) intents about top-ups, 60
questions each, drawn with a fixed seed from the official train split and shuffled:

    python templates/topup-automl/make_data.py ../shared/data/banking77
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

SEED = 31
PER_INTENT = 60
INTENTS = (
    "automatic_top_up",
    "pending_top_up",
    "top_up_by_bank_transfer_charge",
    "top_up_by_card_charge",
    "top_up_by_cash_or_cheque",
    "top_up_failed",
    "top_up_limits",
    "top_up_reverted",
    "topping_up_by_card",
    "verify_top_up",
)


def main(source: Path) -> None:
    rng = random.Random(SEED)
    with (source / "train.csv").open(encoding="utf-8", newline="") as handle:
        rows = [(" ".join(r["text"].split()), r["category"]) for r in csv.DictReader(handle)]
    picked = []
    for intent in INTENTS:
        texts = sorted({t for t, c in rows if c == intent})
        picked += [(t, intent) for t in rng.sample(texts, PER_INTENT)]
    rng.shuffle(picked)
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    with (out / "topups.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["message", "intent"])
        writer.writerows(picked)
    print(len(picked), "rows")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
