"""`compute.engine: ray`: the same training function on Ray Train workers.

Ray Train's TorchTrainer starts `world_size` workers (CPUs per worker = the plan's threads, a
GPU each when the plan trains on GPUs) and joins them in a torch process group; each worker runs
`run_plan` exactly as a torchrun process would, so the main worker (rank 0) writes the run folder
and the others only train. The run folder is an absolute path that every worker must reach: on
one machine any folder, on a cluster a shared file system. Ray's own bookkeeping goes to
`<run folder>/../.ray/`, outside the run folder, so its layout matches a torchrun run's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from etbuilder.errors import MissingExtraError, RunError
from etbuilder.plan import Plan
from etbuilder.runtime.result import RunResult

FORWARDED_ENV = ("PYTHONPATH", "ETB_CACHE_DIR", "HF_HOME", "ETB_DEBUG")
"""Variables the workers need to see what the driver sees (code, caches)."""


def _train_worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: the torchrun worker's work, in the process group Ray made."""
    from etbuilder.runtime.engine import run_plan

    plan = Plan.from_json(config["plan"])
    run_plan(plan, Path(config["run_dir"]), resume=config["resume"], quiet=True)


def run_on_ray(plan: Plan, run_dir: Path, *, resume: bool = False, quiet: bool = True) -> RunResult:
    """Train `plan` into `run_dir` on Ray Train workers; the driver waits and reads the result."""
    try:
        import ray
        from ray.train import FailureConfig, RunConfig, ScalingConfig
        from ray.train.torch import TorchConfig, TorchTrainer
    except ImportError:
        raise MissingExtraError("ray", "ray") from None
    compute = plan.compute
    run_dir = run_dir.resolve()
    gpu = plan.hardware.device == "cuda" and plan.spec.compute.devices != "cpu"
    env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    env["OMP_NUM_THREADS"] = str(compute.threads_per_process)
    started_here = not ray.is_initialized()
    if started_here:
        cpus = compute.world_size * compute.threads_per_process
        _connect(ray, compute.address, cpus, {"env_vars": env}, quiet)
    trainer = TorchTrainer(
        _train_worker,
        train_loop_config={"plan": plan.to_json(), "run_dir": str(run_dir), "resume": resume},
        torch_config=TorchConfig(timeout_s=round(compute.collective_timeout_s)),
        scaling_config=ScalingConfig(
            num_workers=compute.world_size,
            use_gpu=gpu,
            resources_per_worker={"CPU": compute.threads_per_process},
        ),
        run_config=RunConfig(
            name=run_dir.name,
            storage_path=str(run_dir.parent / ".ray"),
            failure_config=FailureConfig(max_failures=0),
        ),
    )
    try:
        trainer.fit()
    except Exception as error:
        raise RunError(
            f"the Ray Train job failed: {_first_line(error)}; the worker's traceback is above. "
            f"Continue from the last checkpoint with `etb run SPEC --resume --output {run_dir}`"
        ) from error
    finally:
        if started_here:
            ray.shutdown()
    return _result(run_dir)


def _connect(
    ray: Any, address: str | None, cpus: int, runtime_env: dict[str, Any], quiet: bool
) -> None:
    """Join the cluster at `address`, or start a local Ray sized for the plan's workers."""
    if address:
        try:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=not quiet)
        except (ConnectionError, RuntimeError) as error:
            auth = "InvalidAuthToken" in str(error) or "auth" in str(error).lower()
            hint = (
                "the cluster asks for a token: set RAY_AUTH_MODE=token (and RAY_AUTH_TOKEN, or "
                "the cluster's ~/.ray/auth_token) where `etb run` runs"
                if auth
                else "start it with `ray start --head` there, or remove compute.rendezvous to "
                "start a local Ray"
            )
            raise RunError(
                f"cannot reach the Ray cluster at compute.rendezvous {address!r}: "
                f"{_first_line(error)}; {hint}"
            ) from None
        return
    ray.init(
        num_cpus=cpus,
        runtime_env=runtime_env,
        include_dashboard=False,
        log_to_driver=not quiet,
        object_store_memory=100 * 2**20,  # the workers pass the plan only: keep /dev/shm free
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _result(run_dir: Path) -> RunResult:
    metrics_file = run_dir / "metrics.json"
    status_file = run_dir / "run.json"
    if not metrics_file.is_file():
        raise RunError(f"the Ray workers finished but {metrics_file} is missing")
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    state = json.loads(status_file.read_text(encoding="utf-8")).get("state", "finished")
    return RunResult(run_dir, metrics, str(state))
