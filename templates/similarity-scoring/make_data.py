"""Write data/{train,validation,test}.csv: sentence pairs scored 0-5, written for this template.

The STS Benchmark's scores are CC BY-SA 4.0 but its sentences carry their sources' own terms,
so the gallery does not copy them. This script writes an example set in their style instead:
short scene descriptions ("A man is playing a guitar on a stage.") built from a small
vocabulary of who, doing what, where, each with several wordings that mean the same. A pair's
score follows the STS guidelines from what the two sentences share:

    5.0  same who, same action, same place (reworded: "A guy is strumming a guitar on stage.")
    4.0  same who and action, the place said in one sentence only
    3.4  same who and action, different places
    3.0  same action, a related who (a man / a woman); 2.6 an unrelated who (a man / a dog)
    2.0  related actions (playing a guitar / playing a piano) by the same who; 1.6 by another
    1.8  same who and place, unrelated actions
    1.0  the same who or a shared topic only (both about music, or both in a kitchen)
    0.0  nothing in common

No pair occurs twice, in one split or across them (a test pair is never a training pair,
although the small vocabulary means its sentences may each occur in other pairs). Run it once
(output committed; the same seed gives the same files):

    python templates/similarity-scoring/make_data.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 13
SIZES = {"train": 1200, "validation": 300, "test": 400}
ANIMAL_ACTIONS = frozenset({"run", "swim", "ball", "sleep"})
"""What a dog or a cat may do in a sentence (the other actions need hands)."""

WHO = {
    "man": ("person", ["A man", "A guy", "A gentleman"]),
    "woman": ("person", ["A woman", "A lady"]),
    "boy": ("child", ["A boy", "A little boy", "A young boy"]),
    "girl": ("child", ["A girl", "A little girl", "A young girl"]),
    "dog": ("animal", ["A dog", "A puppy"]),
    "cat": ("animal", ["A cat", "A kitten"]),
    "chef": ("person", ["A chef", "A cook"]),
    "couple": ("group", ["A couple", "A young couple"]),
}
ACTIONS = {
    "guitar": ("music", ["is playing a guitar", "is strumming a guitar", "plays the guitar"]),
    "piano": ("music", ["is playing the piano", "plays a piano", "is playing a keyboard"]),
    "sing": ("music", ["is singing a song", "sings a song", "is singing"]),
    "cook": ("food", ["is cooking a meal", "is preparing food", "is making dinner"]),
    "onion": ("food", ["is slicing an onion", "is cutting an onion", "is chopping an onion"]),
    "bread": ("food", ["is cutting bread", "is slicing a loaf of bread", "slices some bread"]),
    "run": ("sport", ["is running", "is jogging", "runs"]),
    "swim": ("sport", ["is swimming", "swims", "is taking a swim"]),
    "ball": ("sport", ["is kicking a ball", "kicks a football", "is playing with a ball"]),
    "bike": ("ride", ["is riding a bicycle", "is riding a bike", "is cycling"]),
    "horse": ("ride", ["is riding a horse", "rides a horse", "is on horseback"]),
    "read": ("rest", ["is reading a book", "reads a book", "is reading a novel"]),
    "sleep": ("rest", ["is sleeping", "is asleep", "is taking a nap"]),
    "phone": ("talk", ["is talking on the phone", "is on the phone", "is making a phone call"]),
}
PLACES = {
    "stage": ("music", ["on a stage", "on stage", "on the stage"]),
    "kitchen": ("food", ["in a kitchen", "in the kitchen", "in a small kitchen"]),
    "park": ("outdoor", ["in a park", "in the park", "at the park"]),
    "beach": ("outdoor", ["on a beach", "on the beach", "by the sea"]),
    "street": ("outdoor", ["on the street", "in the street", "on a road"]),
    "room": ("indoor", ["in a room", "in the living room", "at home"]),
    "field": ("sport", ["on a field", "in a field", "on the grass"]),
}


def sentence(rng: random.Random, who: str, action: str, place: str | None) -> str:
    where = f" {rng.choice(PLACES[place][1])}" if place is not None else ""
    return f"{rng.choice(WHO[who][1])} {rng.choice(ACTIONS[action][1])}{where}."


def score(a: tuple[str, str, str | None], b: tuple[str, str, str | None]) -> float:
    """The STS-style grade of two scenes (who, action, place); see the module docstring."""
    (who_a, act_a, place_a), (who_b, act_b, place_b) = a, b
    same_who = who_a == who_b
    related_who = WHO[who_a][0] == WHO[who_b][0]
    same_act = act_a == act_b
    related_act = ACTIONS[act_a][0] == ACTIONS[act_b][0]
    same_place = place_a == place_b
    if same_act and same_who:
        if same_place:
            return 5.0
        return 4.0 if place_a is None or place_b is None else 3.4
    if same_act:
        return 3.0 if related_who else 2.6
    if related_act:
        return 2.0 if same_who else 1.6
    if same_who and same_place and place_a is not None:
        return 1.8
    topics_a = {ACTIONS[act_a][0], PLACES[place_a][0] if place_a else ""}
    topics_b = {ACTIONS[act_b][0], PLACES[place_b][0] if place_b else ""}
    if (topics_a & topics_b) - {""} or same_who:
        return 1.0
    return 0.0


def scene(rng: random.Random) -> tuple[str, str, str | None]:
    place = rng.choice([*PLACES, None])
    return rng.choice(list(WHO)), rng.choice(list(ACTIONS)), place


def variant(rng: random.Random, base: tuple[str, str, str | None]) -> tuple[str, str, str | None]:
    """A second scene sharing some of `base`, so that every grade occurs."""
    who, action, place = base
    roll = rng.random()
    if roll < 0.15:
        return base
    if roll < 0.3:
        return who, action, None if place else rng.choice(list(PLACES))
    if roll < 0.45:
        return rng.choice([w for w in WHO if WHO[w][0] == WHO[who][0]] or [who]), action, place
    if roll < 0.6:
        group = ACTIONS[action][0]
        related = [a for a in ACTIONS if ACTIONS[a][0] == group and a != action]
        return who, rng.choice(related or [action]), place
    if roll < 0.7:
        return who, rng.choice(list(ACTIONS)), place
    return scene(rng)


def sensible(scene: tuple[str, str, str | None]) -> bool:
    return WHO[scene[0]][0] != "animal" or scene[1] in ANIMAL_ACTIONS


def pairs(rng: random.Random, size: int, seen: set[str]) -> list[list[str]]:
    rows: list[list[str]] = []
    while len(rows) < size:
        a = scene(rng)
        b = variant(rng, a)
        if not (sensible(a) and sensible(b)):
            continue
        first = sentence(rng, *a)
        second = sentence(rng, *b)
        key = f"{first}|{second}"
        if first == second or key in seen:
            continue
        seen.add(key)
        rows.append([first, second, f"{score(a, b):.1f}"])
    return rows


def main() -> None:
    rng = random.Random(SEED)
    out = Path(__file__).parent / "data"
    out.mkdir(exist_ok=True)
    seen: set[str] = set()
    for split, size in SIZES.items():
        rows = pairs(rng, size, seen)
        with (out / f"{split}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["sentence1", "sentence2", "score"])
            writer.writerows(rows)
        print(split, len(rows))


if __name__ == "__main__":
    main()
