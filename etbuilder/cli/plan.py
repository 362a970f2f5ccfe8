"""`etb plan`: compile a spec against its data and show what a run will do and cost."""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from etbuilder.cli._common import SetOption, SpecArgument, load
from etbuilder.plan import BaseStrategyPlan, DaptPlan, Plan, StrategyPlan, TunePlan, lbfgs_head


def _count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n:,}"


def _bytes(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _labels(counts: dict[str, int], rows: int) -> str:
    if not counts:
        return ""
    shown = [f"{k}: {v / max(sum(counts.values()), 1):.0%}" for k, v in list(counts.items())[:6]]
    more = f" (+{len(counts) - 6})" if len(counts) > 6 else ""
    return ", ".join(shown) + more


def profile_table(plan: Plan) -> Table:
    table = Table(title="Data profile", title_justify="left")
    for name, justify in (
        ("split", "left"), ("rows", "right"), ("empty", "right"), ("dupes", "right"),
        ("labels", "left"), ("tokens p50/p90/p99/max", "right"), ("truncated", "right"),
    ):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for p in plan.data.profiles:
        lengths = p.lengths
        labels = _labels(p.label_counts, p.rows)
        if p.target_stats:
            t = p.target_stats
            labels = f"{t['min']:g}..{t['max']:g} (mean {t['mean']:g}, std {t['std']:g})"
        if p.unseen_labels:
            labels += f" [yellow]unseen: {', '.join(p.unseen_labels[:3])}[/yellow]"
        table.add_row(
            p.name,
            f"{p.rows:,}",
            str(p.empty_texts),
            str(p.duplicates),
            labels,
            f"{lengths.p50}/{lengths.p90}/{lengths.p99}/{lengths.max}" if lengths else "",
            f"{lengths.truncated:,}" if lengths else "",
        )
    return table


def decisions_table(plan: Plan) -> Table:
    table = Table(title="Decisions", title_justify="left", expand=True)
    table.add_column("setting", style="bold", no_wrap=True)
    table.add_column("value", max_width=32, overflow="fold")
    table.add_column("from", no_wrap=True)
    table.add_column("why", ratio=1)
    for d in plan.decisions:
        table.add_row(d.key, _value(d.value), d.source, d.reason)
    return table


def strategy_chain(strategy: StrategyPlan) -> list[BaseStrategyPlan]:
    """The strategy, then (dapt) its downstream strategy."""
    return [strategy, strategy.then] if isinstance(strategy, DaptPlan) else [strategy]


def merged_groups(strategy: BaseStrategyPlan) -> list[tuple[str, int, bool, float]]:
    """Parameter groups with runs of alike layers merged: `encoder.layer.0-5`."""
    rows: list[tuple[str, int, bool, float]] = []
    run: list[str] = []
    for g in strategy.groups:
        prefix, _, index = g.name.rpartition(".")
        last = rows[-1] if rows else None
        if (
            last is not None
            and run
            and index.isdigit()
            and last[2:] == (g.trainable, g.lr_scale)
            and run[0].rpartition(".")[0] == prefix
        ):
            run.append(g.name)
            first = run[0].rpartition(".")[2]
            rows[-1] = (f"{prefix}.{first}-{index}", last[1] + g.parameters, *last[2:])
            continue
        run = [g.name] if index.isdigit() else []
        rows.append((g.name, g.parameters, g.trainable, g.lr_scale))
    return rows


def groups_table(strategy: BaseStrategyPlan) -> Table:
    table = Table(title=f"Parameter groups ({strategy.type})", title_justify="left")
    table.add_column("group", style="bold")
    table.add_column("parameters", justify="right")
    table.add_column("trains")
    table.add_column("lr x", justify="right")
    for name, count, trainable, scale in merged_groups(strategy):
        trains = "[green]yes[/green]" if trainable else "[dim]frozen[/dim]"
        table.add_row(name, f"{count:,}", trains, f"{scale:.4g}")
    return table


def estimates_table(plan: Plan) -> Table:
    e = plan.estimates
    table = Table(title="Estimates (per process)", title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("parameters", f"{_count(e.parameters_total)} total, "
                  f"{_count(e.parameters_trainable)} trainable")  # fmt: skip
    for key in ("weights", "gradients", "optimizer", "activations", "total"):
        table.add_row(f"memory: {key}", _bytes(e.memory_bytes.get(key, 0)))
    table.add_row("FLOPs per epoch", f"{e.flops_per_epoch:.3g}")
    if e.flops_once:
        table.add_row("FLOPs once (caches, pretraining)", f"{e.flops_once:.3g}")
    table.add_row("time per epoch", _seconds(e.seconds_per_epoch))
    if e.seconds_teacher:
        table.add_row("time: teacher stage (in total)", _seconds(e.seconds_teacher))
    table.add_row("time total", _seconds(e.seconds_total))
    return table


def tune_table(tune: TunePlan) -> Table:
    budget = _seconds(tune.budget_s) if tune.budget_s is not None else "none"
    table = Table(
        title=(
            f"Study: {tune.sampler} sampler, {tune.pruner} pruner, {tune.storage} storage; "
            f"validation {tune.metric} ({tune.direction}); budget {budget}: about "
            f"{tune.expected_trials} of {tune.trials} trials at "
            f"{_seconds(tune.seconds_per_trial)} each; end to end about "
            f"{_seconds(tune.search_seconds + (tune.refit_seconds or 0.0))}"
            + (
                f" (with the refit, ~{_seconds(tune.refit_seconds)})"
                if tune.refit_seconds is not None
                else ""
            )
            + " plus testing and packaging"
        ),
        title_justify="left",
    )
    table.add_column("setting", style="bold")
    table.add_column("range")
    table.add_column("trial 0")
    table.add_column("only when")
    for d in tune.space:
        if d.kind == "choice":
            span = ", ".join(str(c) for c in d.choices or [])
        else:
            span = f"{d.kind} [{d.low:g}, {d.high:g}]" + (f" step {d.step}" if d.step else "")
        when = "; ".join(f"{c.path} in {', '.join(c.values)}" for c in d.conditions)
        table.add_row(d.path, span, "" if d.base is None else str(d.base), when)
    return table


def show(plan: Plan, console: Console, spec_file: str = "SPEC") -> None:
    """Print the readable summary of `plan`."""
    b, hw, s = plan.backbone, plan.hardware, plan.schedule
    console.print(
        f"[bold]{plan.spec.name}[/bold]: {plan.task.type} with {plan.strategy.type} on "
        f"{b.name} ({b.model_type}, {b.layers} layers, hidden {b.hidden_size}) | "
        f"{hw.device_name} ({hw.device}, {hw.cpu_cores} cores) | {plan.precision.used}"
    )
    if plan.data.split:
        r = plan.data.split
        console.print(
            f"split carved from train: validation {r.validation:g}, test {r.test:g}, "
            f"{'stratified' if r.stratify else 'not stratified'}, seed {r.seed}"
        )
    console.print(profile_table(plan))
    console.print(decisions_table(plan))
    console.print("[bold]Strategy[/bold]")
    for strategy in strategy_chain(plan.strategy):
        for i, action in enumerate(strategy.actions, 1):
            console.print(f"  {i}. {action}")
        console.print(groups_table(strategy))
    lbfgs = lbfgs_head(plan.strategy)
    if lbfgs is not None:
        console.print(
            f"[bold]Schedule[/bold]: full-batch L-BFGS head, one fit per L2 strength "
            f"({', '.join(f'{x:g}' for x in lbfgs.l2_grid)})"
        )
    else:
        console.print(
            f"[bold]Schedule[/bold]: {s.epochs} epochs x {s.steps_per_epoch:,} steps = "
            f"{s.total_steps:,} steps, warmup {s.warmup_steps:,}, lr {s.learning_rate:g} "
            f"{s.schedule}"
        )
        console.print(f"[bold]Global batch[/bold]: {batch_math(plan)}")
    console.print(estimates_table(plan))
    console.print(f"[dim]time basis: {plan.estimates.time_basis}[/dim]")
    if plan.tune is not None:
        console.print(tune_table(plan.tune))
    if plan.warnings:
        console.print("[bold yellow]Warnings[/bold yellow]")
        for w in plan.warnings:
            console.print(f"  [yellow]{w.code}[/yellow]: {w.message}")
    else:
        console.print("[green]No warnings.[/green]")
    compute = plan.compute
    layout = f"{compute.engine}, {compute.world_size} process(es)"
    if compute.world_size > 1:
        layout += f", {compute.parallelism}"
        layout += f" ({compute.sharding} sharding)" if compute.sharding else ""
        layout += f", collective timeout {compute.collective_timeout_s:.0f} s"
    console.print(f"[bold]Commands[/bold] ({layout})")
    for c in plan.compute.commands:
        env = " ".join(f"{k}={v}" for k, v in sorted(c.env.items()))
        console.print(
            f"  node {c.node}: {env} {shlex.join(c.argv)}", soft_wrap=True, highlight=False
        )
    if plan.compute.engine == "torchrun":
        console.print(
            f"  (the plan file: etb plan SPEC --json > {plan.compute.commands[0].argv[-1]}; "
            "or let etb run write it and start torchrun:)",
            soft_wrap=True,
            highlight=False,
        )
        for line in etb_run_lines(plan, spec_file):
            console.print(f"  {line}", soft_wrap=True, highlight=False)


def batch_math(plan: Plan) -> str:
    """`64 = 8 per process x 8 processes (2 nodes x 4) x accumulation 1`."""
    s, c = plan.schedule, plan.compute
    nodes = f" ({c.nodes} nodes x {c.processes_per_node})" if c.nodes > 1 else ""
    return (
        f"{s.global_batch} = {s.batch_size} per process x {s.processes} process(es){nodes} "
        f"x accumulation {s.accumulation}"
    )


def etb_run_lines(plan: Plan, spec: str) -> list[str]:
    """The `etb run` command each node of a torchrun plan runs."""
    c = plan.compute
    if c.nodes == 1:
        return [f"node 0: etb run {shlex.quote(spec)}"]
    master = plan.spec.compute.rendezvous or "HOST:PORT"
    return [
        f"node {rank}: etb run {shlex.quote(spec)} --node-rank {rank} --master {master}"
        for rank in range(c.nodes)
    ]


def plan(
    spec: SpecArgument,
    set_: SetOption = None,
    json_: bool = typer.Option(False, "--json", help="Print the full plan as JSON, only that."),
) -> None:
    """Compile a spec against its data: profile, decisions and why, estimates, commands."""
    from etbuilder.compiler.pipeline import compile_spec

    compiled = compile_spec(load(spec, set_), spec_path=spec)
    if json_:
        sys.stdout.write(compiled.to_json())
        return
    show(compiled, Console(width=None if sys.stdout.isatty() else 132), spec)
