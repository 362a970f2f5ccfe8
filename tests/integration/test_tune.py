"""`etb tune` on a tiny BERT: storages, conditional space, best-spec round trip, budget stop,
all-failed studies, SIGKILL then --resume, and two workers on one study."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from etbuilder.cli.main import main
from tests.fixtures import make_tiny_bert

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not found")

BASE = """etb: 1
name: tiny-tune
data: {{train: {data}, quoting: false, split: {{validation: 0.25, test: 0.25, seed: 2}}}}
task: {{type: classification, text: sentence, label: label}}
backbone: {{model: {model}, max_length: 32}}
train: {{epochs: {epochs}, batch_size: 16, learning_rate: 1.0e-3, seed: 3}}
compute: {{threads: 1}}
deploy: {{package: false}}
tune:
{tune}
"""

CONDITIONAL = """  trials: 3
  sampler: random
  pruner: none
  space:
    strategy.type: {choice: [features, lora]}
    strategy.r: {choice: [2, 4]}
    strategy.head: {choice: [linear, mlp]}
    train.learning_rate: {log_uniform: [1.0e-4, 1.0e-2]}"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tune")
    make_tiny_bert(folder / "tiny")
    rows = (DATA / "sst2_glue" / "train.tsv").read_text(encoding="utf-8").splitlines()[:161]
    (folder / "train.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETB_CACHE_DIR", str(tmp_path / "cache"))


def write_spec(project: Path, folder: Path, tune: str, *, epochs: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "spec.yaml"
    text = BASE.format(data=project / "train.tsv", model=project / "tiny", tune=tune, epochs=epochs)
    spec.write_text(text, encoding="utf-8")
    return spec


def trials_of(study: Path) -> list[dict[str, str]]:
    with (study / "trials.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def optuna_trials(study: Path, kind: str = "sqlite") -> list[Any]:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage: Any = (
        f"sqlite:///{study / 'study.db'}"
        if kind == "sqlite"
        else JournalStorage(JournalFileBackend(str(study / "study.journal")))
    )
    return optuna.load_study(study_name="tiny-tune", storage=storage).trials


def etb(*args: str) -> list[str]:
    return [sys.executable, "-m", "etbuilder.cli.main", *args]


def child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


@pytest.mark.parametrize("storage", ["memory", "sqlite", "journal"])
def test_a_study_over_each_storage_samples_only_the_chosen_strategys_knobs(
    project: Path, tmp_path: Path, storage: str
) -> None:
    tune = CONDITIONAL + f"\n  storage: {storage}"
    spec = write_spec(project, tmp_path, tune)
    study = tmp_path / "study"
    assert main(["tune", str(spec), "--output", str(study), "--quiet"]) == 0
    rows = trials_of(study)
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert all(r["state"] == "complete" for r in rows)
    for row in rows:
        if row["strategy.type"] == "features":
            own, other, choices = "strategy.head", "strategy.r", ("linear", "mlp")
        else:
            assert row["strategy.type"] == "lora"
            own, other, choices = "strategy.r", "strategy.head", ("2", "4")
        assert row[other] == ""
        if row["number"] in ("0", "1"):  # each strategy at its defaults: nothing sampled
            assert row[own] == ""
            assert row["train.learning_rate"].startswith("default (")
        else:
            assert row[own] in choices
        run = Path(row["run_dir"])
        assert (run / "plan.json").is_file() and (run / "metrics.json").is_file()
        plan = json.loads((run / "plan.json").read_text(encoding="utf-8"))
        assert plan["strategy"]["type"] == row["strategy.type"]
    assert {r["strategy.type"] for r in rows} == {"features", "lora"}, "cheap-first warm start"
    assert (study / "study.db").is_file() == (storage == "sqlite")
    assert (study / "study.journal").is_file() == (storage == "journal")
    best = yaml.safe_load((study / "best.yaml").read_text(encoding="utf-8"))
    assert "tune" not in best
    for name in ("report.md", "optimization_history.png", "intermediate_values.png"):
        assert (study / name).is_file(), name


def test_the_best_spec_reproduces_the_best_trial_and_features_share_one_cache(
    project: Path, tmp_path: Path
) -> None:
    tune = """  trials: 3
  sampler: tpe
  storage: memory
  space:
    strategy.type: {choice: [features]}
    train.learning_rate: {log_uniform: [1.0e-3, 1.0e-1]}"""
    spec = write_spec(project, tmp_path, tune, epochs=3)
    # a head trained by AdamW, so that each trial's sampled rate is a new configuration (an
    # L-BFGS head has no rate: its trials would repeat the first)
    spec.write_text(
        spec.read_text() + "strategy: {type: features, solver: adamw}\n", encoding="utf-8"
    )
    study = tmp_path / "study"
    assert main(["tune", str(spec), "--output", str(study), "--quiet"]) == 0
    record = json.loads((study / "study.json").read_text(encoding="utf-8"))["summary"]
    assert record["complete"] == 3
    assert record["feature_hits"] == 2, "the 2nd and 3rd trial read the 1st one's features"
    caches = [r["feature_cache"] for r in trials_of(study)]
    assert caches == ["written", "hit", "hit"]
    again = tmp_path / "again"
    assert main(["run", str(study / "best.yaml"), "--output", str(again), "--quiet"]) == 0
    metrics = json.loads((again / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["validation"]["accuracy"] == pytest.approx(record["best_value"], abs=1e-9)
    best_run = Path(record["best_run"])
    trained = json.loads((best_run / "plan.json").read_text(encoding="utf-8"))
    rerun = json.loads((again / "plan.json").read_text(encoding="utf-8"))
    assert rerun["schedule"]["learning_rate"] == trained["schedule"]["learning_rate"]


def test_the_budget_stops_the_study_before_configurations_that_cannot_fit(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tune = """  trials: 20
  budget: 5s
  storage: memory
  space:
    train.epochs: {int: [20, 30]}"""
    spec = write_spec(project, tmp_path, tune)
    study = tmp_path / "study"
    real = ["--set", "backbone.model=minilm-l6"]  # estimated at minutes: compiled, never trained
    assert main(["tune", str(spec), *real, "--output", str(study), "--quiet"]) == 2
    err = capsys.readouterr().err
    rows = trials_of(study)
    assert f"no trial finished: 0 pruned, {len(rows)} did not fit the budget" in err
    assert 1 <= len(rows) <= 3 and all(r["state"] == "skipped" for r in rows)
    assert all("does not fit" in r["reason"] for r in rows)
    assert not (study / "trials").exists(), "nothing trained"


def test_the_budget_ends_a_study_of_trials_that_fit(project: Path, tmp_path: Path) -> None:
    import optuna

    tune = """  trials: 200
  budget: 6s
  space:
    strategy.type: {choice: [features]}
    train.learning_rate: {log_uniform: [1.0e-3, 1.0e-1]}"""
    spec = write_spec(project, tmp_path, tune, epochs=1)
    study = tmp_path / "study"
    assert main(["tune", str(spec), "--output", str(study), "--quiet"]) == 0
    trials = [t for t in optuna_trials(study) if t.state.name != "WAITING"]
    loaded = optuna.load_study(study_name="tiny-tune", storage=f"sqlite:///{study / 'study.db'}")
    deadline = float(loaded.user_attrs["started"]) + 6
    assert 1 <= len(trials) < 200
    assert all(t.datetime_start.timestamp() <= deadline for t in trials), "none started late"


def test_trial_zero_runs_when_only_the_other_strategies_exceed_the_budget(
    project: Path, tmp_path: Path
) -> None:
    """The spec's own `features` fits the budget (about 1 s estimated); finetune and lora at
    their defaults do not (8-12 s).
    The study trains trial 0 rather than stopping because nothing else fits (it once started
    no trial at all: full sst2 on one core under `etb init`'s 10m)."""
    tune = """  trials: 3
  budget: 5s
  sampler: random
  pruner: none
  storage: memory
  space:
    strategy.type: {choice: [features, finetune, lora]}"""
    spec = write_spec(project, tmp_path, tune, epochs=1)
    study = tmp_path / "study"
    real = ["--set", "backbone.model=minilm-l6", "--set", "strategy.type=features"]
    assert main(["tune", str(spec), *real, "--output", str(study), "--quiet"]) == 0
    rows = {r["number"]: r for r in trials_of(study)}
    assert rows["0"]["strategy.type"] == "features" and rows["0"]["state"] == "complete"
    others = [r for n, r in rows.items() if n != "0"]  # none when trial 0 spent the budget
    assert all(r["state"] == "skipped" and "does not fit" in r["reason"] for r in others)


def test_a_trial_that_repeats_a_finished_one_is_skipped_and_the_next_is_drawn_at_random(
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A features spec with an exactly solved head has one configuration: the sampler can only
    repeat it. The repeats are not trained again; the trial after each repeat is drawn by a
    random sampler (TPE exploits its best region and may propose a finished configuration
    again), and the study stops after five repeats in a row."""
    import optuna

    drawn: list[int] = []
    real = optuna.samplers.RandomSampler

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, seed: int | None = None) -> None:
            drawn.append(len(drawn))
            super().__init__(seed=seed)

    monkeypatch.setattr(optuna.samplers, "RandomSampler", Recording)
    tune = """  trials: 20
  sampler: tpe
  storage: memory
  space:
    strategy.type: {choice: [features]}"""
    spec = write_spec(project, tmp_path, tune)
    spec.write_text(
        spec.read_text().replace(", learning_rate: 1.0e-3", "").replace("epochs: 2, ", "")
        + "strategy: {type: features}\n",
        encoding="utf-8",
    )
    study = tmp_path / "study"
    assert main(["tune", str(spec), "--output", str(study), "--quiet"]) == 0
    rows = trials_of(study)
    assert [r["state"] for r in rows] == ["complete"] + ["skipped"] * 5
    assert all(r["reason"].startswith("the same configuration as trial 0") for r in rows[1:])
    assert sorted(p.name for p in (study / "trials").iterdir()) == ["0000"], "trained once"
    assert ", 5 repeated" in capsys.readouterr().out
    assert "5 repeated a finished trial" in (study / "report.md").read_text(encoding="utf-8")
    assert len(drawn) == 4, "a random draw after each of the first four repeats"


def test_a_repeat_is_found_by_what_the_plan_trains_not_by_the_specs_wording(
    project: Path, tmp_path: Path
) -> None:
    """The `features` warm start leaves `strategy.head` unset; a sampled `head: linear` writes
    it. Both compile to the same run, as does a sampled finetune trial that samples nothing
    else: after the two warm starts every trial repeats one of them."""
    tune = """  trials: 8
  sampler: random
  pruner: none
  storage: memory
  space:
    strategy.type: {choice: [finetune, features]}
    strategy.head: {choice: [linear]}"""
    spec = write_spec(project, tmp_path, tune)
    study = tmp_path / "study"
    assert main(["tune", str(spec), "--output", str(study), "--quiet"]) == 0
    rows = trials_of(study)
    assert [r["state"] for r in rows] == ["complete"] * 2 + ["skipped"] * 5
    features = [r for r in rows[2:] if r["strategy.type"] == "features"]
    assert all(r["reason"].startswith("the same configuration as trial 1") for r in features)
    assert all(r["strategy.head"] == "linear" for r in features), "sampled, unlike the warm start"


def test_a_features_trial_after_the_cache_is_written_is_estimated_without_the_backbone_pass(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etbuilder.runtime.tune import driver

    studies: list[Any] = []
    real_work = driver.work

    def recording(opened: Any) -> None:
        studies.append(opened)
        real_work(opened)

    monkeypatch.setattr(driver, "work", recording)
    tune = """  trials: 2
  sampler: grid
  storage: memory
  space:
    train.seed: {choice: [1, 2]}"""
    spec = write_spec(project, tmp_path, tune)
    study = tmp_path / "study"
    real = ["--set", "backbone.model=minilm-l6", "--set", "strategy.type=features"]
    assert main(["tune", str(spec), *real, "--output", str(study), "--quiet"]) == 0
    first, second = trials_of(study)
    assert (first["feature_cache"], second["feature_cache"]) == ("written", "hit")
    plan = json.loads((Path(first["run_dir"]) / "plan.json").read_text(encoding="utf-8"))
    once = plan["estimates"]["flops_once"] / plan["estimates"]["throughput_flops"]
    assert float(first["estimated_s"]) == pytest.approx(plan["estimates"]["seconds_total"], abs=0.1)
    assert float(second["estimated_s"]) == pytest.approx(
        max(0.1, plan["estimates"]["seconds_total"] - once), abs=0.1
    )
    assert float(second["estimated_s"]) < float(first["estimated_s"])
    # after one trial, the study's "nothing fits any more" test knows what a head-only trial
    # costs now (it stopped studies that had a cached trial's worth of budget left)
    spec.write_text(spec.read_text().replace("trials: 2", "trials: 1"), encoding="utf-8")
    assert main(["tune", str(spec), *real, "--output", str(tmp_path / "once"), "--quiet"]) == 0
    assert min(studies[-1].context.fit_seconds) == pytest.approx(
        float(second["estimated_s"]), abs=0.1
    )


def test_a_study_whose_every_trial_fails_exits_with_the_most_common_reason(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tune = """  trials: 2
  storage: memory
  space:
    strategy.type: {choice: [distill]}"""
    spec = write_spec(project, tmp_path, tune)
    assert main(["tune", str(spec), "--output", str(tmp_path / "study"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "every trial failed (2)" in err and "(2 of them): invalid combination" in err
    assert "teacher" in err


def test_sigkill_mid_trial_then_resume_keeps_finished_trials_and_retries_the_killed_one(
    project: Path, tmp_path: Path
) -> None:
    tune = """  trials: 3
  sampler: random
  pruner: none
  space:
    strategy.type: {choice: [lora]}
    train.learning_rate: {log_uniform: [1.0e-4, 1.0e-2]}"""
    spec = write_spec(project, tmp_path, tune, epochs=8)
    study = tmp_path / "study"
    process = subprocess.Popen(
        etb("tune", str(spec), "--output", str(study), "--quiet"),
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    while not (study / "trials" / "0001" / "run.json").is_file():
        assert process.poll() is None, "the study ended before the second trial"
        assert time.monotonic() - started < 600
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = optuna_trials(study)
    assert [t.state.name for t in before] == ["COMPLETE", "RUNNING"]
    assert main(["tune", str(spec), "--output", str(study), "--resume", "--quiet"]) == 0
    after = optuna_trials(study)
    assert [t.state.name for t in after] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert after[0].value == before[0].value, "the finished trial is kept, not rerun"
    assert after[1].user_attrs["failure"] == "its process died (killed)"
    assert after[2].user_attrs["retry_of"] == 1 and after[2].params == after[1].params
    rows = trials_of(study)
    assert [r["state"] for r in rows] == ["complete", "failed", "complete", "complete"]


def test_two_workers_share_one_study_without_duplicated_or_lost_trials(
    project: Path, tmp_path: Path
) -> None:
    tune = """  trials: 6
  sampler: random
  pruner: none
  storage: journal
  space:
    strategy.type: {choice: [lora]}
    train.learning_rate: {log_uniform: [1.0e-4, 1.0e-2]}"""
    spec = write_spec(project, tmp_path, tune, epochs=3)
    study = tmp_path / "study"
    workers = [
        subprocess.Popen(
            etb("tune", str(spec), "--output", str(study), "--join", "--quiet"),
            env=child_env(),
        )
        for _ in range(2)
    ]
    assert [w.wait(timeout=900) for w in workers] == [0, 0]
    trials = optuna_trials(study, "journal")
    assert [t.number for t in trials] == list(range(6))
    assert all(t.state.name == "COMPLETE" for t in trials)
    runs = [t.user_attrs["run_dir"] for t in trials]
    assert len(set(runs)) == 6
    assert all((Path(r) / "metrics.json").is_file() for r in runs)
    assert len({t.user_attrs["pid"] for t in trials}) == 2, "both workers ran trials"
    assert main(["tune", str(spec), "--output", str(study), "--resume", "--quiet"]) == 0
    assert len(optuna_trials(study, "journal")) == 6, "a finished study starts no more trials"
    assert len(trials_of(study)) == 6


def test_init_then_run_searches_on_columns_it_has_never_seen(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = (DATA / "sst2_glue" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:121]
    records = [
        {"opinion": line.rsplit("\t", 1)[0], "verdict": ["bad", "good"][int(line[-1])]}
        for line in rows
    ]
    data = tmp_path / "opinions.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    app = tmp_path / "app"
    assert main(["init", "--data", str(data), "--budget", "5m", str(app)]) == 0
    spec = yaml.safe_load((app / "spec.yaml").read_text(encoding="utf-8"))
    assert spec["task"] == {"type": "classification", "text": "opinion", "label": "verdict"}
    overrides = [
        f"backbone.model={project / 'tiny'}",
        "backbone.max_length=32",
        "tune.trials=2",
        "deploy.package=false",
    ]
    sets = [arg for item in overrides for arg in ("--set", item)]
    study = tmp_path / "study"
    assert main(["run", str(app / "spec.yaml"), *sets, "--output", str(study), "-q"]) == 0
    assert "best: trial" in capsys.readouterr().out
    rows_out = trials_of(study)
    assert len(rows_out) == 2 and rows_out[0]["strategy.type"] == "finetune", "trial 0: own values"
    assert (study / "best.yaml").is_file()


def test_a_pruned_trial_stops_its_run_at_the_evaluation_and_says_so(
    project: Path, tmp_path: Path
) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.runtime.engine import run_plan
    from etbuilder.runtime.result import RunStopped
    from etbuilder.spec.loader import load_spec

    spec = write_spec(project, tmp_path, CONDITIONAL, epochs=4)
    plan = compile_spec(load_spec(spec, ["strategy.type=finetune"]), spec_path=spec)
    seen: list[dict[str, Any]] = []

    def prune_at_second(record: dict[str, Any]) -> None:
        seen.append(record)
        if len(seen) == 2:
            raise RunStopped("pruned at evaluation 2")

    with pytest.raises(RunStopped):
        run_plan(plan, tmp_path / "run", quiet=True, on_eval=prune_at_second)
    assert [r["epoch"] for r in seen] == [1.0, 2.0]
    assert all("validation/accuracy" in r for r in seen)
    status = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert status["state"] == "stopped" and status["stopped"] == "pruned at evaluation 2"


def test_refit_retrains_the_best_configuration_on_train_and_validation(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tune = """  trials: 2
  storage: memory
  refit: train+validation
  space:
    strategy.type: {choice: [features]}
    train.learning_rate: {log_uniform: [1.0e-3, 1.0e-1]}"""
    spec = write_spec(project, tmp_path, tune, epochs=2)
    # the spec's own strategy, so its epochs and rate apply (an AdamW head, trained by epochs)
    spec.write_text(spec.read_text() + "strategy: {type: features}\n", encoding="utf-8")
    study = tmp_path / "study"
    assert main(["tune", str(spec), "--output", str(study), "--quiet"]) == 0
    assert f"refit: {study / 'refit'}" in capsys.readouterr().out
    record = json.loads((study / "study.json").read_text(encoding="utf-8"))["summary"]
    best = json.loads((Path(record["best_run"]) / "metrics.json").read_text(encoding="utf-8"))
    refit = json.loads((study / "refit" / "metrics.json").read_text(encoding="utf-8"))
    assert refit["test"]["n"] == best["test"]["n"], "the same test rows"
    assert "validation" not in refit
    refit_spec = yaml.safe_load((study / "refit.yaml").read_text(encoding="utf-8"))
    assert refit_spec["train"]["epochs"] == max(1, int(-(-best["best_epoch"] // 1)))
    trained = (study / "refit-data" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    plan = json.loads((Path(record["best_run"]) / "plan.json").read_text(encoding="utf-8"))
    rows = {p["name"]: p["rows"] for p in plan["data"]["profiles"]}
    assert len(trained) == rows["train"] + rows["validation"]


STRATEGY_SPACE = """  trials: 3
  storage: memory
  space:
    strategy.type: {choice: [features, lora, finetune]}
    strategy.r: {choice: [2, 4]}"""


def test_a_trial_of_another_strategy_takes_its_default_not_the_specs_value(
    project: Path, tmp_path: Path
) -> None:
    from etbuilder.compiler.pipeline import compile_spec
    from etbuilder.compiler.recipes import RECIPES
    from etbuilder.plan import lbfgs_head
    from etbuilder.runtime.tune.trial import TrialContext, compile_trial
    from etbuilder.spec.loader import load_spec

    spec_path = write_spec(project, tmp_path, STRATEGY_SPACE, epochs=3)
    text = spec_path.read_text(encoding="utf-8").replace(
        "seed: 3}", "seed: 3, warmup: 0.1}\nstrategy: {type: finetune}"
    )
    spec_path.write_text(text, encoding="utf-8")
    spec = load_spec(spec_path)
    base = compile_spec(spec, spec_path=spec_path)
    assert base.tune is not None
    ctx = TrialContext(spec, spec_path, base.tune, base.hardware, tmp_path, None)

    own, own_text = compile_trial(ctx, {"strategy.type": "finetune"})
    assert (own.schedule.learning_rate, own.schedule.epochs) == (1.0e-3, 3), "the spec's own"
    assert "learning_rate: 0.001" in own_text

    lora, lora_text = compile_trial(ctx, {"strategy.type": "lora", "strategy.r": 2})
    assert lora.schedule.learning_rate == RECIPES["lora"].learning_rate
    assert not {"learning_rate", "epochs", "warmup"} & set(yaml.safe_load(lora_text)["train"])
    assert "# train.learning_rate 0.001 is the spec's value for finetune" in lora_text

    features, _ = compile_trial(ctx, {"strategy.type": "features"})
    assert lbfgs_head(features.strategy) is not None, "no leaked epochs: the exact solver"

    sampled, _ = compile_trial(ctx, {"strategy.type": "lora", "train.learning_rate": 5e-3})
    assert sampled.schedule.learning_rate == 5e-3, "a sampled value wins"


def test_warm_starts_are_the_spec_itself_then_each_strategy_at_its_defaults(
    project: Path, tmp_path: Path
) -> None:
    tune = """  trials: 3
  sampler: random
  pruner: none
  storage: memory
  space:
    strategy.type: {choice: [finetune, features, lora]}
    train.learning_rate: {log_uniform: [1.0e-5, 1.0e-1]}
    train.epochs: {int: [1, 4]}"""
    spec = write_spec(project, tmp_path, tune, epochs=2)
    study = tmp_path / "study"
    assert main(["tune", str(spec), "--output", str(study), "--quiet"]) == 0
    rows = {r["strategy.type"]: r for r in trials_of(study)}
    assert rows["finetune"]["number"] == "0"
    assert rows["finetune"]["train.learning_rate"] == "0.001"  # the spec's own values
    assert rows["finetune"]["train.epochs"] == "2"
    assert rows["features"]["train.learning_rate"] == "default (lbfgs)"
    assert rows["lora"]["train.learning_rate"] == "default (0.001)"
    lora_plan = json.loads((Path(rows["lora"]["run_dir"]) / "plan.json").read_text())
    epochs = rows["lora"]["train.epochs"]
    assert epochs == f"default ({lora_plan['schedule']['epochs']})"
    assert epochs != "default (2)", "the lora recipe's epochs, not the finetune spec's"


def _start_joining(spec: Path, url: str, folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        etb("tune", str(spec), "--set", f"tune.storage={url}", "--output", str(folder), "-q"),
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _two_machines_share_one_study(project: Path, tmp_path: Path, url: str) -> None:
    """Two `etb tune` processes with the same database URL and their own folders (as on two
    machines): one study, its trials each run once, in one of them, none lost."""
    import optuna

    tune = """  trials: 5
  sampler: random
  pruner: none
  space:
    strategy.type: {choice: [features, lora]}
    train.learning_rate: {log_uniform: [1.0e-4, 1.0e-2]}"""
    spec = write_spec(project, tmp_path, tune, epochs=2)
    folders = [tmp_path / "machine-a", tmp_path / "machine-b"]
    processes = [_start_joining(spec, url, folder) for folder in folders]
    outputs = [p.communicate(timeout=900)[0].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert [s.study_name for s in optuna.get_all_study_summaries(url)] == ["tiny-tune"]
    trials = optuna.load_study(study_name="tiny-tune", storage=url).trials
    ran = [t for t in trials if "skipped" not in t.user_attrs]
    assert len(ran) == 5 and all(t.state.name == "COMPLETE" for t in ran)
    warm = [t.user_attrs.get("warm_start") for t in trials if "warm_start" in t.user_attrs]
    assert len(warm) == 2, "one process warm-started the study, not both"
    runs = [Path(t.user_attrs["run_dir"]) for t in ran]
    assert len(set(runs)) == 5
    assert {r.parent.parent for r in runs} <= set(folders)
    assert all((r / "metrics.json").is_file() for r in runs)
    for folder in folders:
        assert (folder / "trials.csv").is_file() and (folder / "best.yaml").is_file()
        record = json.loads((folder / "study.json").read_text(encoding="utf-8"))
        assert record["storage"] == "url"


def test_two_processes_join_one_study_through_a_database_url(project: Path, tmp_path: Path) -> None:
    _two_machines_share_one_study(project, tmp_path, f"sqlite:///{tmp_path / 'shared.db'}")


@pytest.fixture
def postgres() -> Iterator[str]:
    """A PostgreSQL server of Debian's `postgresql` package on loopback, for this test only."""
    import shutil
    import socket

    bin_dirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    initdb = shutil.which("initdb") or next(
        (str(d / "initdb") for d in bin_dirs if (d / "initdb").is_file()), None
    )
    if initdb is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")
    pytest.importorskip("psycopg", reason="the psycopg driver (etbuilder[postgres])")
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    data = Path(tempfile.mkdtemp(prefix="etb-pg-"))  # not under pytest's root-only folder
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: as Debian's postgres user
        shutil.chown(data, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "etb"], **run)
    options = f"-k {data} -p {port} -c listen_addresses=127.0.0.1"
    start = [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(data / "log"), "-w"]
    subprocess.run([*start, "start"], **run)
    try:
        yield f"postgresql://etb@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], **run)
        shutil.rmtree(data, ignore_errors=True)


def test_two_processes_join_one_study_on_a_postgresql_server(
    project: Path, tmp_path: Path, postgres: str
) -> None:
    _two_machines_share_one_study(project, tmp_path, postgres)


def test_an_lbfgs_head_is_not_pruned_on_its_l2_path(project: Path, tmp_path: Path) -> None:
    """The evaluations along an L-BFGS head's L2 path start at the strongest penalty, always
    the worst score: they are not a learning curve, so they never reach the pruner."""
    tune = """  trials: 2
  sampler: grid
  pruner: median
  space:
    strategy.type: {choice: [features]}
    strategy.pooling: {choice: [mean, cls]}"""
    spec = write_spec(project, tmp_path, tune)
    text = spec.read_text(encoding="utf-8").replace(
        "epochs: 2, batch_size: 16, learning_rate: 1.0e-3, seed: 3}",
        "batch_size: 16, seed: 3}\nstrategy: {type: features}",
    )
    spec.write_text(text, encoding="utf-8")
    study = tmp_path / "study"
    assert main(["tune", str(spec), "--output", str(study), "--quiet"]) == 0
    trials = optuna_trials(study)
    assert len(trials) == 2 and all(t.state.name == "COMPLETE" for t in trials)
    assert all(t.intermediate_values == {} for t in trials)
    plans = [json.loads((Path(r["run_dir"]) / "plan.json").read_text()) for r in trials_of(study)]
    assert all(p["strategy"]["solver"] == "lbfgs" for p in plans)
