"""What torchrun starts in every process: `python -m etbuilder.cli.launch PLAN_JSON`.

Each process reads the same compiled plan (no recompilation, so every rank trains the same
thing), the main process names the run folder and the others receive it; Accelerate joins the
process group from torchrun's environment. Options: `--output DIR`, `--resume`, `--quiet`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from etbuilder.cli._common import report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etbuilder.cli.launch")
    parser.add_argument("plan", type=Path, help="plan JSON written by `etb plan SPEC --json`")
    parser.add_argument("--output", type=Path, default=None, help="run folder")
    parser.add_argument("--resume", action="store_true", help="continue the run in --output")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    timeout: float | None = None
    try:
        from etbuilder.errors import RunError
        from etbuilder.plan import Plan
        from etbuilder.report.rundir import new_run_dir
        from etbuilder.runtime.engine import check_runnable, run_plan

        if not args.plan.is_file():
            raise RunError(f"no plan at {args.plan}; write it with `etb plan SPEC --json > FILE`")
        plan = Plan.from_json(args.plan.read_text(encoding="utf-8"))
        timeout = plan.compute.collective_timeout_s
        check_runnable(plan)
        main_process = os.environ.get("RANK", "0") == "0"
        if args.resume and args.output is None and main_process:  # the others receive it
            raise RunError("--resume needs --output DIR: the run folder to continue")
        run_dir = args.output or new_run_dir(plan, create=main_process)
        result = run_plan(plan, run_dir, resume=args.resume, quiet=args.quiet)
        if main_process:
            print(f"run folder: {result.run_dir}")
            if plan.deploy.package:
                from etbuilder.package.builder import build_app

                print(f"app: {build_app(result.run_dir)}")
    except (Exception, KeyboardInterrupt) as error:
        rank = os.environ.get("RANK", "0")
        print(f"etb: rank {rank} stopped:", file=sys.stderr)
        return report(_timed_out(error, rank, timeout) or _lost_contact(error, rank) or error)
    return 0


PEER_LOST = ("gloo", "NCCL", "Connection reset", "Connection closed", "Broken pipe")
"""What torch.distributed says when another process of the job went away mid-collective."""


TIMED_OUT = ("Timed out", "timed out", "Timeout", "timeout")
"""What torch.distributed says when a collective waited longer than the process group's timeout."""


def _timed_out(error: BaseException, rank: str, timeout: float | None) -> BaseException | None:
    """A RunError naming the ranks that stopped answering, for a collective that timed out."""
    from etbuilder.errors import RunError
    from etbuilder.runtime.watch import behind, noted_step

    text = str(error)
    distributed = type(error).__module__.startswith("torch") or any(
        word in text for word in ("gloo", "NCCL", "c10d", "ProcessGroup")
    )
    if not distributed or not any(word in text for word in TIMED_OUT) or timeout is None:
        return None
    late = behind()
    who = (
        f"{late} stopped answering while this rank started step {noted_step()}"
        if late
        else "another rank stopped answering (which one could not be told)"
    )
    return RunError(
        f"rank {rank} waited {timeout:.0f} s in a collective (compute.collective_timeout) and "
        f"gave up: {who}. A rank that hangs (a stuck data read, a deadlock, a frozen machine) "
        "stops the job this way; raise compute.collective_timeout if that rank was only slow"
    )


def _lost_contact(error: BaseException, rank: str) -> BaseException | None:
    """A RunError for a collective that failed because another rank stopped, else None."""
    from etbuilder.errors import RunError

    text = str(error)
    distributed = type(error).__module__.startswith("torch.distributed")
    if not distributed and not any(word in text for word in PEER_LOST):
        return None
    first = text.strip().splitlines()[0][:300] if text.strip() else type(error).__name__
    return RunError(
        f"rank {rank} lost contact with the other processes of the job ({first}): another "
        "rank stopped first (torchrun names it on its node) or its machine became unreachable"
    )


if __name__ == "__main__":
    sys.exit(main())
