"""Pass `plan_deploy`: what the packaged app will hold and serve, and its server's limits."""

from __future__ import annotations

from etbuilder.compiler.context import CompileContext
from etbuilder.plan import DeployPlan, ServerLimits


def plan_deploy(ctx: CompileContext) -> CompileContext:
    """Lower `deploy:` into the plan's deploy record."""
    deploy = ctx.spec.deploy
    server = deploy.server
    plan = DeployPlan(
        package=deploy.package,
        formats=sorted(set(deploy.formats)),
        quantization=deploy.quantization,
        server=ServerLimits(
            max_batch_size=server.max_batch_size,
            max_text_chars=server.max_text_chars,
            max_body_bytes=server.max_body_bytes,
            batch_wait_ms=server.batch_wait_ms,
        ),
    )
    if deploy.quantization == "auto":
        ctx = ctx.decide(
            "deploy.quantization",
            "auto",
            "int8 is served only when the quality gate measures it within 0.5 point of fp32 "
            "at batch 1 and at the largest batch, on the test and validation splits (when the "
            "app is packaged); otherwise fp32",
            "default",
        )
    if not deploy.package:
        ctx = ctx.decide(
            "deploy.package", False, "no app at the end of `etb run`: `etb package RUN`", "spec"
        )
    return ctx.replace(deploy=plan)
