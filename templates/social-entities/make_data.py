"""Recreate data/{train,validation,test}.conll from WNUT 2017 (run once; committed).

A slice so that a CPU run takes minutes: 1,000 training sentences, 300 validation sentences
(from the dev file) and 600 test sentences (from the annotated test file), drawn with a fixed
seed, written as `token<TAB>tag` lines with an empty line between sentences (the upstream files
separate sentences with a line holding only a tab). A sentence that repeats one already read
(in this file or an earlier one) is dropped:

    python templates/social-entities/make_data.py ../shared/data/wnut17
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

SEED = 13
FILES = {
    "train": ("wnut17train.conll", 1000),
    "validation": ("emerging.dev.conll", 300),
    "test": ("emerging.test.annotated", 600),
}


def sentences(path: Path, seen: set[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            token, tag = line.split("\t")[:2]
            out[-1].append(f"{token}\t{tag}")
        elif out[-1]:
            out.append([])
    unique = []
    for sentence in out:
        key = "\n".join(sentence)
        if sentence and key not in seen:
            seen.add(key)
            unique.append(sentence)
    return unique


def main(source: Path) -> None:
    rng = random.Random(SEED)
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    seen: set[str] = set()
    for name, (file, size) in FILES.items():
        picked = rng.sample(sentences(source / file, seen), size)
        text = "\n\n".join("\n".join(s) for s in picked) + "\n"
        (out / f"{name}.conll").write_text(text, encoding="utf-8", newline="\n")
        print(name, len(picked))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
