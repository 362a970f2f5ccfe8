"""Plain words for the compiler's plan: what each decision is about, for someone who does not
know "warmup" or "bf16". The decisions, values and reasons themselves come from the plan."""

from __future__ import annotations

from typing import Any

SETTING_WORDS: dict[str, str] = {
    "backbone.path": "Pretrained model used",
    "backbone.max_length": "Longest text read (in tokens, word pieces)",
    "backbone.pooling": "How a text becomes one vector",
    "data.split": "Held-out data for checking the model",
    "data.truncated": "Texts cut at the length limit",
    "task.labels": "Categories to predict",
    "task.metric": "Score used to judge the model",
    "task.head": "Prediction layer added on top",
    "task.loss": "What training minimizes",
    "task.threshold": "Confidence needed to give a tag",
    "strategy.trainable_parameters": "How much of the model learns",
    "train.precision": "Number format during training (speed vs exactness)",
    "train.learning_rate": "Learning rate (size of each learning step)",
    "train.epochs": "Passes over the training data",
    "compute.threads": "CPU threads used",
    "compute.world_size": "Training processes",
    "schedule.global_batch": "Examples learned from per step",
    "schedule.steps_per_epoch": "Steps per pass over the data",
    "schedule.total_steps": "Learning steps in total",
    "schedule.warmup_steps": "Warm-up steps (learning starts gently)",
    "estimates.tokens_per_epoch": "Word pieces read per pass",
    "deploy.quantization": "Compression of the shipped model",
}
"""Decision key -> what it is about, in everyday words (unknown keys are shown as they are)."""

GLOSSARY: dict[str, str] = {
    "bf16": "a compact number format: faster training, tiny loss of exactness",
    "fp16": "a compact number format for GPUs",
    "fp32": "the full-precision number format",
    "int8": "the shipped model stores its weights as small integers: smaller and faster",
    "warmup": "the first steps learn slowly so that the pretrained knowledge is not disturbed",
    "epoch": "one pass over all training examples",
    "batch": "examples the model looks at together before each learning step",
    "token": "a word or a piece of a word, as the model reads text",
    "lora": "trains small add-on matrices instead of the whole model",
    "finetune": "adjusts every weight of the pretrained model to your task",
    "features": "keeps the pretrained model fixed and trains only a small layer on top",
    "freeze": "keeps the lower layers fixed and trains the top ones",
    "distill": "a small model learns to imitate a bigger one",
    "dapt": "first reads your domain's texts, then learns the task",
}


def setting(key: str) -> str:
    return SETTING_WORDS.get(key, key.replace("_", " ").replace(".", ": "))


def value(raw: Any) -> str:
    if isinstance(raw, float):
        return f"{raw:.4g}"
    if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) >= 10_000:
        return f"{raw:,}"
    if isinstance(raw, dict):
        return ", ".join(f"{k} {value(v)}" for k, v in raw.items() if k != "algorithm")
    if isinstance(raw, list):
        return ", ".join(str(v) for v in raw[:8]) + (f" (+{len(raw) - 8})" if len(raw) > 8 else "")
    return str(raw)


def duration(seconds: float) -> str:
    if seconds < 1.5:
        return "about 1 second"
    if seconds < 90:
        return f"about {seconds:.0f} seconds"
    if seconds < 5400:
        return f"about {seconds / 60:.0f} minutes"
    return f"about {seconds / 3600:.1f} hours"


def size(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MB"


def terms_in(*texts: str) -> dict[str, str]:
    """Glossary entries for the terms that appear in `texts`."""
    joined = " ".join(texts).lower()
    return {term: meaning for term, meaning in GLOSSARY.items() if term in joined}
