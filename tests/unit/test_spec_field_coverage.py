"""Every field of the spec's JSON Schema does something or is refused; none is silently ignored.

For each field the schema lists, a small spec sets it to a non-default value and is compiled next
to the same spec without it. Each field is in one of these classes:

- `plan`: both compile and the plans differ outside the plan's own copy of the spec (and its hash);
- `enables`: the spec without the field cannot be compiled (its files need the field), with it it
  can: the field is what makes the reader work;
- `refused`: this version cannot carry the value out, so `etb plan` stops with a one-line message
  that names the field and says what to write instead;
- `after`: the field acts after the plan (the report, the zoo's resolution of a hub id); the
  named test exercises it and must exist.

The walk over the schema fails when a field has no case, so a new field needs one.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_compiler_fixtures import CPU, GPU, classification_csv, compile_project, isolated_cache
from test_compiler_pipeline import TASKS

from etbuilder.errors import CompileError, DataError, EtbError
from etbuilder.plan import HardwareInfo, Plan

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "etb-spec.schema.json").read_text(encoding="utf-8"))
DEFS = SCHEMA["$defs"]

pytestmark = pytest.mark.usefixtures("isolated_cache")
__all__ = ["isolated_cache"]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        rest = {k: v for k, v in node.items() if k != "$ref"}
        node = {**DEFS[node["$ref"].rsplit("/", 1)[-1]], **rest}
    return node


def schema_fields(node: dict[str, Any] = SCHEMA, path: str = "") -> Iterator[str]:
    """Every writable field, as `section.key`; `<tag>` picks a union member (and is itself a
    field: choosing it), `{}` the mapping form of a field that also takes a scalar, `*` any key."""
    node = _resolve(node)
    if "discriminator" in node:
        for tag, ref in sorted(node["discriminator"]["mapping"].items()):
            yield f"{path}<{tag}>"
            yield from schema_fields({"$ref": ref}, f"{path}<{tag}>")
        return
    if "properties" in node:
        for name, sub in node["properties"].items():
            if name == "type" and path.endswith(">"):
                continue  # the tag itself: covered by `path`
            yield from schema_fields(sub, f"{path}.{name}" if path else name)
        return
    if isinstance(node.get("additionalProperties"), dict):
        yield from schema_fields(node["additionalProperties"], f"{path}.*")
        return
    yield path
    for option in (_resolve(o) for o in node.get("anyOf", node.get("oneOf", []))):
        if "properties" in option:
            yield from schema_fields(option, path if path.endswith("*") else f"{path}{{}}")


@dataclass(frozen=True)
class Case:
    value: Any
    expect: str = "plan"
    also: dict[str, Any] = field(default_factory=dict)
    """Set in both specs (what the field needs around it)."""
    base: str = "classification"
    """TASKS key of the spec and files the case starts from."""
    files: dict[str, str] = field(default_factory=dict)
    """Extra or replaced files."""
    hardware: HardwareInfo = CPU


TEACHER = "teacher_run"
"""A finished teacher run folder (its plan.json) that the distill cases point at."""
STRATEGY_NEEDS: dict[str, dict[str, Any]] = {
    "distill": {"teacher": TEACHER},
    "dapt": {"steps": 10},
}
"""Fields a strategy member needs to be written at all."""

HEADERLESS = "".join(f"{line}\n" for line in classification_csv().splitlines()[1:])
SEMICOLONS = classification_csv().replace(",", ";")
RENAMED = "a,b\n" + HEADERLESS
QUOTED = "text,label\n" + "".join(
    f'"{line.split(",")[0]} ""quoted""",{line.split(",")[1]}\n' for line in HEADERLESS.splitlines()
)

ON_TORCHRUN = {"compute.engine": "torchrun"}
TUNE_SPACE = {"train.learning_rate": {"log_uniform": [1.0e-5, 1.0e-3]}}
TUNED = {"tune": {"space": TUNE_SPACE}}
"""Both specs of a `tune.*` case have a search; the case changes one thing in it."""


CASES: dict[str, Case] = {
    "etb": Case(1, "single"),
    "name": Case("renamed"),
    "description": Case("Routes support tickets", "report"),
    # backbone
    "backbone.model": Case("__minilm_folder__"),
    "backbone.max_length": Case(24),
    "backbone.pooling": Case("max", base="embedding"),  # a classifier head reads [CLS]: refused
    "backbone.revision": Case(
        "main", "after:tests.unit.test_zoo:test_hf_cache_by_id_alias_and_revision"
    ),
    "backbone.allow_online": Case(
        True, "after:tests.unit.test_zoo:test_unknown_backbone_error_names_everything_tried"
    ),
    # compute
    "compute.devices": Case("cpu", hardware=GPU),
    "compute.engine": Case("torchrun"),
    "compute.nodes": Case(2, also={**ON_TORCHRUN, "compute.rendezvous": "h0:29500"}),
    "compute.parallelism": Case("fsdp", also={**ON_TORCHRUN, "compute.processes_per_node": 2}),
    "compute.sharding": Case(
        "hybrid",
        also={
            **ON_TORCHRUN,
            "compute.parallelism": "fsdp",
            "compute.nodes": 2,
            "compute.rendezvous": "h0:29500",
        },
    ),
    "compute.collective_timeout": Case(
        "90s", also={**ON_TORCHRUN, "compute.processes_per_node": 2}
    ),
    "compute.processes_per_node": Case(2, also=ON_TORCHRUN),
    "compute.rendezvous": Case("h0:29500", also=ON_TORCHRUN),
    "compute.threads": Case(1),
    # data, for every file
    "data.columns": Case(["text", "label"], "enables", files={"train.csv": RENAMED}),
    "data.delimiter": Case(";", "enables", files={"train.csv": SEMICOLONS}),
    "data.encoding": Case("utf-8-sig"),
    "data.format": Case(
        "csv",
        "enables",
        files={"train.csv": "", "train.txt": classification_csv()},
        also={"data.train": "train.txt"},
    ),
    "data.header": Case(
        False, also={"data.columns": ["text", "label"]}, files={"train.csv": HEADERLESS}
    ),
    "data.max_train_rows": Case(100),
    "data.quoting": Case(False, files={"train.csv": QUOTED}),
    "data.split": Case({"validation": 0.2, "test": 0.0}),
    "data.split{}.seed": Case(7),
    "data.split{}.stratify": Case(False),
    "data.split{}.test": Case(0.2),
    "data.split{}.validation": Case(0.2),
    "data.train": Case("other.csv", files={"other.csv": classification_csv(120)}),
    "data.validation": Case("dev.csv", files={"dev.csv": classification_csv(40)}),
    "data.test": Case("test.csv", files={"test.csv": classification_csv(40)}),
    # deploy
    "deploy.formats": Case(["onnx"]),
    "deploy.package": Case(False),
    "deploy.quantization": Case("none"),
    "deploy.public_env": Case(
        ["DATA_DIR"],
        "after:tests.unit.test_disclosure:test_loader_records_which_values_came_from_private_variables",
    ),
    "deploy.server.batch_wait_ms": Case(1.0),
    "deploy.server.max_batch_size": Case(8),
    "deploy.server.max_body_bytes": Case(4096),
    "deploy.server.max_text_chars": Case(500),
    # train
    "train.accumulation": Case(2),
    "train.global_batch": Case(64),
    "train.batch_size": Case(8),
    "train.checkpoint_every": Case(3),
    "train.deterministic": Case(True),
    "train.early_stopping": Case(
        {"patience": 3},
        also={"data.validation": "dev.csv"},
        files={"dev.csv": classification_csv(40)},
    ),
    "train.early_stopping{}.min_delta": Case(
        0.01, also={"data.validation": "dev.csv"}, files={"dev.csv": classification_csv(40)}
    ),
    "train.early_stopping{}.patience": Case(
        4, also={"data.validation": "dev.csv"}, files={"dev.csv": classification_csv(40)}
    ),
    "train.epochs": Case(5),
    "train.eval_every": Case(3),
    "train.keep_checkpoints": Case(4),
    "train.head_learning_rate": Case(2.0e-2),
    "train.learning_rate": Case(2.0e-4),
    "train.max_grad_norm": Case(None),
    "train.precision": Case("fp32", hardware=GPU),
    "train.schedule": Case("cosine"),
    "train.seed": Case(7),
    "train.time_budget": Case("10m"),
    "train.warmup": Case(10),
    "train.weight_decay": Case(0.1),
    # task members: each is compared with the same task's spec without the field
    "task<classification>": Case({"text": "text", "label": "topics"}, base="multilabel_as_text"),
    "task<classification>.label": Case(
        "other",
        files={
            "train.csv": "text,label,other\n"
            + "".join(
                f"{line},{'yes' if i % 3 else 'no'}\n"
                for i, line in enumerate(HEADERLESS.splitlines())
            )
        },
    ),
    "task<classification>.labels": Case(["pos", "neg"]),
    "task<classification>.metric": Case("f1_macro"),
    "task<classification>.text": Case(
        "text2",
        files={
            "train.csv": "text,label,text2\n"
            + "".join(f"{line},more {i}\n" for i, line in enumerate(HEADERLESS.splitlines()))
        },
    ),
    "task<multilabel>": Case({"text": "text", "label": "topics"}, base="classification_jsonl"),
    "task<multilabel>.label": Case("topics2", base="multilabel"),
    "task<multilabel>.labels": Case(["tech", "sport", "news"], base="multilabel"),
    "task<multilabel>.metric": Case("f1_macro", base="multilabel"),
    "task<multilabel>.separator": Case(";", base="multilabel"),
    "task<multilabel>.text": Case("text2", base="multilabel"),
    "task<multilabel>.threshold": Case(0.3, base="multilabel"),
    "task<pair_classification>": Case(
        {"text": ["q1", "q2"], "label": "same"}, base="regression_on_pairs"
    ),
    "task<pair_classification>.label": Case("same2", base="pair_classification"),
    "task<pair_classification>.labels": Case(["1", "0"], base="pair_classification"),
    "task<pair_classification>.metric": Case("f1_binary", base="pair_classification"),
    "task<pair_classification>.text": Case(["q2", "q1"], base="pair_classification"),
    "task<regression>": Case({"text": ["first", "second"], "label": "score"}, base="embedding"),
    "task<regression>.label": Case("score2", base="regression"),
    "task<regression>.metric": Case("mse", base="regression"),
    "task<regression>.text": Case(["second", "first"], base="regression"),
    "task<ner>": Case({}, base="classification_conll"),
    "task<ner>.labels": Case(["O", "B-person", "B-location", "I-location"], base="ner"),
    "task<ner>.metric": Case("token_accuracy", base="ner"),
    "task<ner>.tags": Case("labels", base="ner_jsonl"),
    "task<ner>.tokens": Case("words", base="ner_jsonl"),
    "task<embedding>": Case({"text": ["first", "second"], "label": "score"}, base="regression"),
    "task<embedding>.label": Case(None, base="embedding"),
    "task<embedding>.loss": Case("contrastive", base="embedding"),
    "task<embedding>.metric": Case("pearson", base="embedding"),
    "task<embedding>.normalize": Case(False, base="embedding"),
    "task<embedding>.text": Case(["second", "first"], base="embedding"),
}

STRATEGY_VALUES: dict[str, Any] = {
    "<distill>.alpha": 0.9,
    "<distill>.student_layers": 3,
    "<distill>.teacher": "teacher_copy",
    "<distill>.temperature": 4.0,
    "<features>.head": "mlp",
    "<features>.hidden": 32,
    "<features>.pooling": "cls",
    "<features>.solver": "adamw",
    "<freeze>.embeddings": False,
    "<freeze>.layers": 2,
    "<freeze>.lr_decay": 0.8,
    "<lora>.alpha": 32.0,
    "<lora>.dropout": 0.2,
    "<lora>.r": 4,
    "<lora>.targets": ["query", "key", "value"],
    "<lora>.variant": "dora",
}
"""A non-default value of each knob of a strategy that may also follow dapt."""

for _split in ("train", "validation", "test"):
    _file = "train.csv" if _split == "train" else "dev.csv"
    _around = {} if _split == "train" else {f"data.{_split}": "dev.csv"}
    _plain = {} if _split == "train" else {"dev.csv": classification_csv(40)}
    _with = {
        "columns": Case(["text", "label"], "enables", also=_around, files={_file: RENAMED}),
        "delimiter": Case(";", "enables", also=_around, files={_file: SEMICOLONS}),
        "encoding": Case("utf-8-sig", also=_around, files=_plain),
        "format": Case(
            "csv",
            "enables",
            also={f"data.{_split}": "rows.txt"},
            files={"rows.txt": classification_csv()},
        ),
        "header": Case(
            False,
            also={**_around, f"data.{_split}{{}}.columns": ["text", "label"]},
            files={_file: HEADERLESS},
        ),
        "path": Case("other.csv", files={**_plain, "other.csv": classification_csv(120)}),
        "quoting": Case(False, also=_around, files={_file: QUOTED}),
    }
    for _key, _case in _with.items():
        CASES[f"data.{_split}{{}}.{_key}"] = _case

MEMBER_AROUND = {"<features>.hidden": {"head": "mlp"}}
"""What a knob needs beside it in its member (the rules refuse it otherwise)."""

for _key, _value in STRATEGY_VALUES.items():  # the member with defaults, then the knob changed
    _member = _key.split(">")[0] + ">"
    _needs = MEMBER_AROUND.get(_key, {})
    CASES[f"strategy{_key}"] = Case(_value, also={f"strategy{_member}": _needs})
    CASES[f"strategy<dapt>.then{_key}"] = Case(
        _value, also={f"strategy<dapt>.then{_member}": _needs}
    )
for _member in ("distill", "features", "freeze", "lora"):  # compared with finetune, the default
    CASES[f"strategy<{_member}>"] = Case({})
    CASES[f"strategy<dapt>.then<{_member}>"] = Case({}, also={"strategy<dapt>": {}})
CASES["strategy<finetune>"] = Case({}, also={"strategy<features>": {}})
CASES["strategy<dapt>.then<finetune>"] = Case({}, also={"strategy<dapt>.then<features>": {}})
CASES["strategy<dapt>"] = Case({})
_DAPT = {"strategy<dapt>": {}}
CASES["strategy<dapt>.corpus"] = Case("corpus.txt", also=_DAPT)
CASES["strategy<dapt>.corpus_column"] = Case("text", also={"strategy<dapt>.corpus": "corpus.csv"})
CASES["strategy<dapt>.learning_rate"] = Case(1.0e-4, also=_DAPT)
CASES["strategy<dapt>.mlm_probability"] = Case(0.3, also=_DAPT)
CASES["strategy<dapt>.steps"] = Case(20, also=_DAPT)
CASES["tune"] = Case({"space": TUNE_SPACE})  # the study in the plan
CASES["tune{}.budget"] = Case("5m", also=TUNED)
CASES["tune{}.direction"] = Case("minimize", also=TUNED)
CASES["tune{}.metric"] = Case("f1_macro", also=TUNED)
CASES["tune{}.pruner"] = Case("hyperband", also=TUNED)
CASES["tune{}.refit"] = Case("train+validation", also=TUNED)
CASES["tune{}.sampler"] = Case("random", also=TUNED)
CASES["tune{}.storage"] = Case("journal", also=TUNED)
CASES["tune{}.trials"] = Case(3, also=TUNED)
CASES["tune{}.space.*"] = Case({**TUNE_SPACE, "train.batch_size": {"choice": [8, 16]}}, also=TUNED)
CASES["tune{}.space.*.uniform"] = Case({"train.warmup": {"uniform": [0.0, 0.2]}}, also=TUNED)
CASES["tune{}.space.*.log_uniform"] = Case(
    {"train.learning_rate": {"log_uniform": [1.0e-4, 1.0e-2]}}, also=TUNED
)
CASES["tune{}.space.*.int"] = Case({"train.epochs": {"int": [1, 3]}}, also=TUNED)
CASES["tune{}.space.*.step"] = Case({"train.epochs": {"int": [1, 5], "step": 2}}, also=TUNED)
CASES["tune{}.space.*.choice"] = Case({"train.schedule": {"choice": ["cosine"]}}, also=TUNED)


def _extra_bases() -> dict[str, tuple[str, dict[str, str]]]:
    """Starting points besides TASKS: the same data under another task, other columns."""
    multilabel_spec, multilabel_files = TASKS["multilabel"]
    jsonl = multilabel_files["train.jsonl"]
    rows = [json.loads(line) for line in jsonl.splitlines()]
    doubled = "".join(
        json.dumps(r | {"text2": r["text"] + " more", "topics2": r["topics"].replace(",", ";")})
        + "\n"
        for r in rows
    )
    pair_spec, pair_files = TASKS["pair_classification"]

    def second_label(tsv: str) -> str:
        lines = tsv.replace("q1\tq2\tsame", "q1\tq2\tsame\tsame2", 1).split("\n")
        return "\n".join(
            line if i == 0 or not line else f"{line}\t{(i // 3) % 2}"
            for i, line in enumerate(lines)
        )

    reg_spec, reg_files = TASKS["regression"]
    reg_train = "\n".join(
        f"{line},score2" if i == 0 else (f"{line},{len(line) % 5}" if line else line)
        for i, line in enumerate(reg_files["train.csv"].split("\n"))
    )
    ner_records = "".join(
        json.dumps(
            {
                "words": ["Ada", "met", f"n{i}", "in", "Paris"],
                "labels": ["B-person", "O", "O", "O", "B-location"],
                "tokens": ["x"] * 5,
                "tags": ["O"] * 5,
            }
        )
        + "\n"
        for i in range(80)
    )
    return {
        "multilabel": (multilabel_spec, {"train.jsonl": doubled}),
        "pair_classification": (
            pair_spec,
            {name: second_label(text) for name, text in pair_files.items()},
        ),
        "regression": (reg_spec, {"train.csv": reg_train}),
        "multilabel_as_text": (multilabel_spec, {"train.jsonl": doubled}),
        "classification_jsonl": (
            multilabel_spec.replace(
                "task: {type: multilabel, text: text, label: topics}",
                "task: {type: classification, text: text, label: topics}",
            ),
            {"train.jsonl": jsonl},
        ),
        "regression_on_pairs": (
            pair_spec.replace(
                "task: {type: pair_classification, text: [q1, q2], label: same}",
                "task: {type: regression, text: [q1, q2], label: same}",
            ),
            pair_files,
        ),
        "classification_conll": (
            "etb: 1\nname: ner\ndata: {train: train.jsonl}\n"
            "task: {type: classification, text: text, label: label}\n",
            {
                "train.jsonl": "".join(
                    json.dumps(
                        {
                            "text": f"row {i}",
                            "label": "ab"[i % 2],
                            "tokens": ["row", str(i)],
                            "tags": ["O", "O"],
                        }
                    )
                    + "\n"
                    for i in range(80)
                )
            },
        ),
        "ner_jsonl": (
            "etb: 1\nname: ner\ndata: {train: train.jsonl}\ntask: {type: ner}\n",
            {"train.jsonl": ner_records},
        ),
    }


BASES = {**TASKS, **_extra_bases()}


def _segments(path: str) -> list[tuple[str, str | None, bool]]:
    """`strategy<dapt>.then<lora>.r` -> [(strategy, dapt, False), (then, lora, False), (r, ...)]."""
    out = []
    for part in path.split("."):
        mapping = part.endswith("{}")
        part = part.removesuffix("{}")
        name, _, tag = part.partition("<")
        out.append((name, tag.rstrip(">") or None, mapping))
    return out


def _put(spec: dict[str, Any], path: str, value: Any) -> None:
    """Set `path` (with member tags) to `value` in the spec mapping `spec`."""
    node = spec
    segments = _segments(path)
    for i, (name, tag, mapping) in enumerate(segments):
        last = i == len(segments) - 1
        if tag is not None:
            current = node.get(name)
            if not isinstance(current, dict) or current.get("type") != tag:
                node[name] = {"type": tag, **STRATEGY_NEEDS.get(tag, {})}
            if last:
                kept = {k: v for k, v in node[name].items() if k == "type"}
                node[name] = {**kept, **(value if isinstance(value, dict) else {})}
                if name == "task":
                    node[name] = {"type": tag, **value}
                elif name in ("strategy", "then"):
                    node[name] = {"type": tag, **STRATEGY_NEEDS.get(tag, {}), **value}
                return
            node = node[name]
            continue
        if last:
            node[name] = value
            return
        current = node.get(name)
        if mapping and isinstance(current, str):
            node[name] = {"path": current}
        node = node.setdefault(name, {})


def _spec(case: Case, path: str | None) -> tuple[str, dict[str, str]]:
    text, files = BASES[case.base]
    spec = yaml.safe_load(textwrap_dedent(text))
    files = {**files, **case.files, "corpus.txt": "some in-domain text\nmore of it\n"}
    files["corpus.csv"] = "text\nsome in-domain text\nmore of it\n"
    for key, value in case.also.items():
        _put(spec, key, copy.deepcopy(value))
    if path is not None:
        value = case.value
        if value == "__minilm_folder__":
            from tests.fixtures.models import minilm_folder

            value = str(minilm_folder())
        if path == "tune":
            spec["tune"] = value
        elif path.startswith("tune{}.space.*"):
            spec["tune"]["space"] = value
        elif path.startswith("tune{}."):
            spec["tune"][path.removeprefix("tune{}.")] = value
        else:
            _put(spec, path, value)
    return yaml.safe_dump(spec, sort_keys=False), files


def textwrap_dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)


def _compile(folder: Path, case: Case, path: str | None) -> Plan:
    text, files = _spec(case, path)
    if "teacher_run" in text or "teacher_copy" in text:
        teacher_text, teacher_files = BASES[case.base]
        teacher = compile_project(folder / "teacher", teacher_text, teacher_files)
        files = {
            **files,
            "teacher_run/plan.json": teacher.to_json(),
            "teacher_copy/plan.json": teacher.to_json(),
        }
    return compile_project(folder, text, files, hardware=case.hardware)


def _comparable(plan: Plan) -> dict[str, Any]:
    return plan.model_dump(mode="json", exclude={"spec", "spec_hash"})


def _description_reaches_the_report(folder: Path, description: str) -> None:
    """`description` is not a plan value: the report (and the app's manifest) show it."""
    from test_report_fixtures import make_plan, make_results

    from etbuilder.report.writer import write_report

    plan = make_plan("classification")
    described = plan.model_copy(
        update={"spec": plan.spec.model_copy(update={"description": description})}
    )
    metrics, rows = make_results("classification")
    texts = [
        write_report(folder / name, p, metrics, rows, [])["report"].read_text(encoding="utf-8")
        for name, p in (("plain", plan), ("described", described))
    ]
    assert description not in texts[0] and description in texts[1]


FIELDS = list(dict.fromkeys(schema_fields()))


def test_every_schema_field_has_a_case() -> None:
    assert set(FIELDS) - set(CASES) == set(), "give each new field a case below"
    assert set(CASES) - set(FIELDS) == set(), "a case names a field the schema no longer has"


@pytest.mark.parametrize("path", FIELDS)
def test_field_changes_the_plan_or_is_refused(tmp_path: Path, path: str) -> None:
    case = CASES[path]
    if case.expect == "single":
        node = _resolve(SCHEMA["properties"][path])
        assert node.get("const", node.get("enum", [None, None])) in ([case.value], case.value)
        return
    if case.expect == "report":
        _description_reaches_the_report(tmp_path, case.value)
        return
    if case.expect.startswith("after:"):
        module, _, name = case.expect.removeprefix("after:").partition(":")
        assert callable(getattr(importlib.import_module(module), name, None)), case.expect
        return
    if case.expect == "refused":
        with pytest.raises(CompileError) as info:
            _compile(tmp_path / "with", case, path)
        message = str(info.value)
        assert f"`{path}" in message and "not available in this version" in message
        assert "\n" not in message
        return
    if case.expect == "enables":
        with pytest.raises((DataError, CompileError, EtbError)):
            _compile(tmp_path / "without", case, None)
        _compile(tmp_path / "with", case, path)
        return
    without = _compile(tmp_path, case, None)  # one folder: paths in the plan are the same
    with_field = _compile(tmp_path, case, path)
    assert _comparable(with_field) != _comparable(without), f"{path} left the plan unchanged"


def test_hidden_without_an_mlp_head_is_refused(tmp_path: Path) -> None:
    from etbuilder.errors import SpecError

    spec = yaml.safe_load(TASKS["classification"][0])
    for strategy in (
        {"type": "features", "hidden": 64},
        {"type": "dapt", "steps": 5, "then": {"type": "features", "hidden": 64}},
    ):
        with pytest.raises(SpecError, match="hidden sizes the hidden layer of an MLP head"):
            compile_project(
                tmp_path, yaml.safe_dump({**spec, "strategy": strategy}), TASKS["classification"][1]
            )
