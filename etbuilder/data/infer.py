"""Infer a spec's `data:` and `task:` from one data file, each choice with its reason.

`etb init --data FILE` and the studio read a file they have never seen: its format, whether it
has a header row, its columns, which column is the label and which hold text, and so the task.
Where the file leaves a choice open (two text-like columns, a numeric label with few distinct
values, no header row) the inference says what it chose and which option changes it. No torch.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etbuilder.data._text import decode, read_bytes, sniff_delimiter, split_lines
from etbuilder.data.delimited import default_column_names
from etbuilder.data.readers import read_split
from etbuilder.data.table import Table
from etbuilder.errors import DataError
from etbuilder.plan import SplitSource
from etbuilder.spec.data import EXTENSION_FORMATS
from etbuilder.spec.task import (
    ClassificationTask,
    MultilabelTask,
    NerTask,
    PairClassificationTask,
    RegressionTask,
)


def _tag(model: Any) -> str:
    return str(model.model_fields["type"].default)


CLASSIFICATION, PAIR, MULTILABEL, REGRESSION, NER = (
    _tag(m)
    for m in (ClassificationTask, PairClassificationTask, MultilabelTask, RegressionTask, NerTask)
)
"""The task types inference chooses between, as the spec's task models name them."""

SAMPLE_ROWS = 20000
"""Rows read to infer from (the first ones)."""
LABEL_NAMES = ("label", "labels", "category", "class", "target", "intent", "sentiment", "tags",
               "topic", "score", "similarity", "y", "gold", "quality")  # fmt: skip
"""Column names that say "label" (a name match beats the values)."""
MAX_CLASSES_NUMERIC = 10
"""A whole-number label with at most this many distinct values reads as classes."""
MULTILABEL_SEPARATORS = (",", "|", ";")

_NAME_LIKE = re.compile(r"^[A-Za-z_#][\w #.\-]{0,40}$")


@dataclass
class Column:
    """What one column's values look like."""

    name: str
    values: list[Any]
    kind: str = "text"
    """text, category, integer, float, id, list or empty."""
    distinct: int = 0
    mean_words: float = 0.0


@dataclass
class Inference:
    """The inferred read options, task and reasons."""

    path: Path
    format: str
    header: bool = True
    columns: list[str] | None = None
    quoting: bool = True
    task: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    reasons: list[tuple[str, str]] = field(default_factory=list)
    """(setting, why), in the order the spec shows them."""
    notes: list[str] = field(default_factory=list)
    """Choices the file left open: what was chosen and which option changes it."""

    def because(self, setting: str, why: str) -> None:
        self.reasons.append((setting, why))

    def reason_for(self, setting: str) -> str | None:
        return next((why for key, why in self.reasons if key == setting), None)


def infer(
    path: str | Path,
    *,
    label: str | None = None,
    text: list[str] | None = None,
    task: str | None = None,
    header: bool | None = None,
) -> Inference:
    """Read `path` and infer its format, columns and task; `label`, `text`, `task` and `header`
    fix what the caller already knows. Raises DataError for an unreadable file or a named column
    it lacks."""
    file = Path(path)
    raw = read_bytes(str(file))
    head = decode(raw[:262144], "utf-8", str(file)) if b"\x00" not in raw[:4096] else ""
    found = Inference(path=file, format=_format(file, head))
    if found.format == "conll":
        return _ner_from_conll(found, file)
    if found.format in ("csv", "tsv"):
        _delimited_options(found, head, header)
    source = SplitSource(
        name="train",
        path=str(file),
        format=found.format,
        header=found.header,
        columns=found.columns,
        quoting=found.quoting,
        max_rows=SAMPLE_ROWS,
    )
    table = read_split(source)
    found.rows = len(table)
    columns = [_profile(name, table) for name in table.columns]
    _choose_task(found, columns, label=label, text=text, task=task)
    return found


def _format(file: Path, head: str) -> str:
    suffix = file.suffix.lower()
    if suffix in EXTENSION_FORMATS and suffix != ".txt":
        return EXTENSION_FORMATS[suffix]
    lines = [line for line in split_lines(head)[:200]]
    if head.lstrip().startswith(("{", "[")):
        return "jsonl"
    if lines and _looks_conll(lines):
        return "conll"
    delimiter = sniff_delimiter(head)
    if delimiter == ",":
        return "csv"
    if delimiter == "\t" or "\t" in head:
        return "tsv"
    raise DataError(
        f"cannot tell how {file.name} is laid out (no tab or comma between fields)",
        file=str(file),
        hint="use a .csv, .tsv, .jsonl, .parquet or .conll file",
    )


def _looks_conll(lines: list[str]) -> bool:
    """Token-per-line: a blank line now and then, two short fields otherwise."""
    filled = [line for line in lines if line.strip()]
    blanks = len(lines) - len(filled)
    if not filled or blanks == 0:
        return False
    two = sum(1 for line in filled if len(line.split()) == 2 and len(line) < 60)
    return two >= 0.9 * len(filled)


def _delimited_options(found: Inference, head: str, header: bool | None) -> None:
    delimiter = "\t" if found.format == "tsv" else ","
    lines = [line for line in split_lines(head) if line.strip()][:200]
    name = "tab" if delimiter == "\t" else "comma"
    found.because("data.format", f"fields separated by {name}s")
    if delimiter == "\t" and '"' in head:
        found.quoting = False
        found.because("data.quoting", 'bare `"` inside tab-separated text: quotes are text')
    first = lines[0].split(delimiter) if lines else []
    rest = [line.split(delimiter) for line in lines[1:50]]
    if header is not None:
        found.header = header
        found.because("data.header", "as --header/--no-header says")
    else:
        found.header = _has_header(first, rest)
        if found.header:
            found.because("data.header", f"the first row names the columns: {', '.join(first)}")
        else:
            found.because("data.header", "the first row holds data, not column names")
            found.notes.append(
                "no header row: columns are named column1, column2, ...; if the first row "
                "names the columns, pass --header"
            )
    if not found.header:
        found.columns = default_column_names(len(first))


def _has_header(first: list[str], rest: list[list[str]]) -> bool:
    first = [f.strip().strip('"') for f in first]
    if not first or not all(_NAME_LIKE.match(f) for f in first):
        return False
    if len(set(first)) != len(first):
        return False
    for index, name in enumerate(first):
        values = [r[index].strip() for r in rest if len(r) > index]
        if not values:
            continue
        if _is_number(name) != all(_is_number(v) for v in values):
            return True  # a numeric column under a word
        if name in values:
            return False  # the same word recurs as data
        if statistics.mean(len(v.split()) for v in values) > 2 and len(name.split()) <= 2:
            return True  # a text column under a short name
    return len(rest) == 0


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _profile(name: str, table: Table) -> Column:
    values = list(table.data[name])
    column = Column(name, values)
    present = [v for v in values if v not in (None, "")]
    if not present:
        column.kind = "empty"
        return column
    if all(isinstance(v, list | tuple) for v in present):
        column.kind = "list"
        return column
    strings = [str(v).strip() for v in present]
    column.distinct = len(set(strings))
    column.mean_words = statistics.mean(len(s.split()) for s in strings)
    numbers = [_number(s) for s in strings]
    if all(n is not None for n in numbers):
        whole = all(float(n).is_integer() for n in numbers if n is not None)
        if whole and column.distinct > 0.9 * len(strings) and column.distinct > 50:
            column.kind = "id"
        else:
            column.kind = "integer" if whole else "float"
        return column
    few = column.distinct <= max(2, min(200, len(strings) // 5))
    column.kind = "category" if few and column.mean_words <= 4 else "text"
    return column


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _choose_task(
    found: Inference,
    columns: list[Column],
    *,
    label: str | None,
    text: list[str] | None,
    task: str | None,
) -> None:
    by_name = {c.name: c for c in columns}
    for wanted in [label, *(text or [])]:
        if wanted is not None and wanted not in by_name:
            raise DataError(
                f"no column {wanted!r} in the file; it has: {', '.join(by_name)}",
                file=str(found.path),
                hint="pass one of those names",
            )
    lists = [c for c in columns if c.kind == "list"]
    if len(lists) >= 2 and label is None and task in (None, NER):
        _ner_from_lists(found, lists)
        return
    label_column = by_name[label] if label else _pick_label(found, columns, text)
    if label:
        found.because("task.label", "as --label says")
    text_columns = [by_name[t] for t in text] if text else _pick_texts(found, columns, label_column)
    if text:
        found.because("task.text", "as --text says")
    kind = task or _task_kind(found, label_column, len(text_columns))
    names = [c.name for c in text_columns]
    spec_text: str | list[str] = names[0] if len(names) == 1 else names[:2]
    if kind == PAIR and len(names) < 2:
        raise DataError(
            "a pair task needs two text columns, the file has one text-like column",
            file=str(found.path),
            hint="pass --text FIRST --text SECOND",
        )
    found.task = {"type": kind, "text": spec_text, "label": label_column.name}
    if kind == MULTILABEL:
        found.task["separator"] = _separator(label_column) or ","


def _pick_label(found: Inference, columns: list[Column], text: list[str] | None) -> Column:
    candidates = [
        c
        for c in columns
        if c.kind in ("category", "integer", "float") and c.name not in (text or [])
    ]
    named = [c for c in candidates if c.name.lower() in LABEL_NAMES]
    if named:
        found.because("task.label", f"the column is called {named[0].name!r}")
        return named[0]
    if not candidates:
        raise DataError(
            "no column looks like a label (few distinct values, or numbers)",
            file=str(found.path),
            hint="name the label column with --label COL",
        )
    chosen = candidates[0] if candidates[0] is columns[0] else candidates[-1]
    why = _label_why(chosen)
    found.because("task.label", why)
    if len(candidates) > 1:
        others = ", ".join(c.name for c in candidates if c is not chosen)
        found.notes.append(
            f"label: chose {chosen.name} ({why}); {others} could be one too: pass --label COL"
        )
    return chosen


def _label_why(column: Column) -> str:
    if column.kind == "category":
        return f"short values, {column.distinct} distinct"
    return f"{column.kind} values, {column.distinct} distinct"


def _pick_texts(found: Inference, columns: list[Column], label: Column) -> list[Column]:
    texts = [c for c in columns if c is not label and c.kind == "text"]
    if not texts:
        texts = [c for c in columns if c is not label and c.kind == "category"]
    if not texts:
        raise DataError(
            "no column holds text",
            file=str(found.path),
            hint="name the text column with --text COL",
        )
    if len(texts) == 1:
        found.because("task.text", f"the text column (about {texts[0].mean_words:.0f} words)")
        return texts
    texts = sorted(texts, key=lambda c: -c.mean_words)[:2]
    texts.sort(key=lambda c: columns.index(c))
    pair = f"{texts[0].name} and {texts[1].name}"
    found.because("task.text", f"two text-like columns: {pair} read as a sentence pair")
    found.notes.append(
        f"text: {pair} both look like text, read as a pair; for one text pass --text COL"
    )
    return texts


def _task_kind(found: Inference, label: Column, texts: int) -> str:
    pair = texts >= 2
    if label.kind == "float":
        found.because("task.type", f"{label.name} holds fractional numbers: regression")
        return REGRESSION
    if label.kind in ("integer", "id"):
        if label.distinct <= MAX_CLASSES_NUMERIC:
            values = sorted({str(v).strip() for v in label.values if v not in (None, "")})
            kind = PAIR if pair else CLASSIFICATION
            shown = ", ".join(values[:10])
            found.because(
                "task.type",
                f"{label.name} holds {label.distinct} whole numbers ({shown}): classes",
            )
            found.notes.append(
                f"{label.name} is numeric with {label.distinct} distinct values: read as "
                "classes; for a number to predict pass --task regression"
            )
            return kind
        found.because("task.type", f"{label.name} holds {label.distinct} distinct numbers")
        return REGRESSION
    separator = _separator(label)
    if separator is not None:
        found.because("task.type", f"{label.name} lists several labels separated by {separator!r}")
        return MULTILABEL
    kind = PAIR if pair else CLASSIFICATION
    shape = "2 classes (binary)" if label.distinct == 2 else f"{label.distinct} classes"
    found.because("task.type", f"{label.name} holds {shape}")
    return kind


def _separator(label: Column) -> str | None:
    """The separator of a multilabel column: used in many rows, splitting into recurring
    parts."""
    strings = [str(v) for v in label.values if v not in (None, "")]
    for separator in MULTILABEL_SEPARATORS:
        split = [s for s in strings if separator in s]
        if len(split) < max(2, len(strings) // 20):
            continue
        parts = [p.strip() for s in strings for p in s.split(separator)]
        if len(set(parts)) <= max(2, len(parts) // 5):
            return separator
    return None


def _ner_from_conll(found: Inference, file: Path) -> Inference:
    source = SplitSource(name="train", path=str(file), format="conll", max_rows=SAMPLE_ROWS)
    table = read_split(source)
    found.rows = len(table)
    tags = {t for row in table.data["tags"] for t in row}
    found.because("data.format", "one token and its tag per line, blank lines between sentences")
    found.task = {"type": NER}
    found.because(
        "task.type", f"a tag per token ({len(tags)} tags, e.g. {', '.join(sorted(tags)[:4])})"
    )
    return found


def _ner_from_lists(found: Inference, lists: list[Column]) -> None:
    tokens, tags = lists[0], lists[1]
    for column in lists:
        if column.name.lower() in ("tokens", "words"):
            tokens = column
        if column.name.lower() in ("tags", "labels", "ner_tags"):
            tags = column
    found.task = {"type": NER, "tokens": tokens.name, "tags": tags.name}
    found.because("task.type", f"{tokens.name} and {tags.name} are lists: a tag per token")


def tune_section(budget_s: float, budget_text: str) -> dict[str, Any]:
    """A `tune:` section sized to a budget: the strategy itself, its learning rate and epochs,
    and each strategy's main knob (sampled only when it is chosen)."""
    trials = int(min(50, max(4, budget_s // 30)))
    return {
        "budget": budget_text,
        "trials": trials,
        "sampler": "tpe",
        "pruner": "median",
        "space": {
            "strategy.type": {"choice": ["features", "lora", "finetune"]},
            "train.learning_rate": {"log_uniform": [1.0e-5, 3.0e-3]},
            "train.epochs": {"int": [1, 4]},
            "strategy.head": {"choice": ["linear", "mlp"]},
            "strategy.r": {"choice": [4, 8, 16]},
        },
    }
