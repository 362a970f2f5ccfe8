"""Training recipes: the learning rate, epochs and warmup each strategy gets when the spec leaves
them unset, and the range of learning rates that is useful for it.

The values were measured with the default backbone on the shared datasets (docs/benchmarks.md,
"Defaults against a grid", `bench/defaults.py`): a frozen-feature head trained with AdamW and
low-rank adapters take steps an order of magnitude larger than full fine-tuning (the MLP head's
1e-3: within 0.7 points of the grid's best on six data sets, where 3e-3 fell 2.3 points short on
stsb), a student cut to fewer layers than its teacher re-learns more than a full fine-tune
(3e-4 beat 1e-4 on sst2 slices of three sizes and on stsb), and small data sets need more
epochs for the same number of optimizer steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    """What a strategy trains with when the spec says nothing."""

    learning_rate: float
    min_steps: int
    """Optimizer steps the run should reach: epochs are added until it does ..."""
    min_epochs: int
    max_epochs: int
    """... within these bounds."""
    warmup: float
    """A fraction of the total steps."""
    useful: tuple[float, float]
    """Learning rates outside this range barely move the weights or diverge: a warning."""


RECIPES: dict[str, Recipe] = {
    "finetune": Recipe(1.0e-4, 600, 2, 10, 0.06, (5.0e-6, 5.0e-4)),
    "freeze": Recipe(1.0e-4, 600, 2, 10, 0.06, (5.0e-6, 1.0e-3)),
    "distill": Recipe(3.0e-4, 600, 2, 10, 0.06, (1.0e-5, 2.0e-3)),
    "lora": Recipe(1.0e-3, 900, 3, 20, 0.06, (1.0e-4, 1.0e-2)),
    "features": Recipe(1.0e-3, 1500, 5, 100, 0.0, (3.0e-4, 1.0e-1)),
}
"""Per strategy type (`features`: a head trained with AdamW on the cached vectors)."""

MLM_RECIPE = RECIPES["finetune"]
"""dapt's masked-LM phase trains the whole body, like full fine-tuning."""

HEAD_RATE_MAX = 1.0e-2
"""A freshly initialised classification (or tagging) head over C classes trains at (C - 1)
times the body's rate, at most this rate (or the body's, when that is higher). A binary head
keeps the body's rate; with a fixed budget of steps, each class's row of a many-class head sees
few examples and needs the larger steps. Measured on 1,000 banking77 rows (77 intents, body
1e-4): test accuracy 0.405 with the head at 1e-4, 0.677 at 1e-3, 0.784 at 3.85e-3, 0.798 at
1e-2; lora (body 1e-3) 0.729 at 3e-3, 0.802 at 1e-2; wnut17's 13 tags: entity F1 0.380 at
1e-4, 0.396 at 6.5e-4, 0.404 at 3e-3; binary sms lost 3.6 points of F1 at 3e-3
(docs/benchmarks.md)."""


def head_rate(body: float, classes: int) -> tuple[float, str]:
    """The rate of a new head over `classes` classes next to a body trained at `body`, and why."""
    scale = max(1, classes - 1)
    rate = max(body, min(HEAD_RATE_MAX, body * scale))
    why = f"{classes} classes: the body's {body:g} x {scale} (classes - 1)"
    if rate < body * scale:
        why += f", at most {HEAD_RATE_MAX:g}"
    return rate, why


L2_GRID: tuple[float, ...] = (1.0e-1, 1.0e-2, 1.0e-3, 1.0e-4, 1.0e-5, 1.0e-6)
"""L2 strengths an L-BFGS linear head tries, strongest first (each fit starts from the last)."""
L2_PATH_PATIENCE = 2
"""The L2 path stops once this many strengths in a row scored below the best on validation:
the weaker strengths cost the most L-BFGS iterations and, past the validation peak, only
overfit more (on wnut17 the last two of six took 202 of 275 s and neither was chosen)."""
L2_WITHOUT_VALIDATION = 1.0e-4
"""The L2 strength of an L-BFGS head when there is no validation split to choose one on."""


def recipe(strategy: str) -> Recipe:
    """The recipe of strategy type `strategy` (full fine-tuning's for a type not listed)."""
    return RECIPES.get(strategy, RECIPES["finetune"])


def choose_epochs(strategy: str, steps_per_epoch: int) -> tuple[int, str]:
    """Enough epochs to reach the recipe's steps, within its bounds, and why."""
    r = recipe(strategy)
    wanted = math.ceil(r.min_steps / max(1, steps_per_epoch))
    epochs = min(r.max_epochs, max(r.min_epochs, wanted))
    bound = (
        f", capped at {r.max_epochs}"
        if wanted > r.max_epochs
        else f", at least {r.min_epochs}"
        if wanted < r.min_epochs
        else ""
    )
    why = (
        f"{strategy}: {steps_per_epoch:,} steps per epoch; {r.min_steps:,} steps wanted -> "
        f"{wanted} epoch(s){bound}"
    )
    return epochs, why


def useful_range_warning(strategy: str, learning_rate: float, what: str) -> str | None:
    """The warning for a learning rate set outside the strategy's useful range, or None."""
    r = recipe(strategy)
    low, high = r.useful
    if low <= learning_rate <= high:
        return None
    effect = (
        "will barely move the trained weights" if learning_rate < low else "is likely to diverge"
    )
    return (
        f"train.learning_rate {learning_rate:g} is outside the useful range {low:g}-{high:g} "
        f"for {what}: it {effect}; leave it unset for the default {r.learning_rate:g}"
    )
