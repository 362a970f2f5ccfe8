"""`deploy:` what the packaged app contains and how its server behaves."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from etbuilder.spec._base import SpecModel

ModelFormat = Literal["torch", "onnx"]


class ServerSpec(SpecModel):
    """Limits and batching of the prediction server."""

    max_batch_size: int = Field(default=64, ge=1, le=4096)
    """Most inputs one request may carry."""
    max_text_chars: int = Field(default=10000, ge=1)
    """Longest text accepted, in characters."""
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    """Largest request body accepted."""
    batch_wait_ms: float = Field(default=5.0, ge=0.0, le=1000.0)
    """How long concurrent requests wait to be micro-batched together."""


class DeploySpec(SpecModel):
    """The deployable app built at the end of a run."""

    package: bool = True
    """Build the app folder and archive at the end of `etb run`."""
    formats: list[ModelFormat] = Field(default_factory=list)
    """Extra model formats in the archive, beside the one ONNX graph the server runs: `torch`
    (the Hugging Face folder, safetensors) and `onnx` (the fp32 ONNX graph, when int8 is
    served). Empty keeps the archive to what the server reads."""
    quantization: Literal["auto", "int8", "none"] = "auto"
    """auto serves int8 ONNX only when it keeps the metric within 0.5 point of fp32 at batch 1
    and at the server's largest batch, on the test and validation splits; it tries dynamic
    int8 with int8 word embeddings, then without, then static int8 calibrated on training
    texts, and serves fp32 when none passes. int8 serves the first recipe unchecked."""
    server: ServerSpec = Field(default_factory=ServerSpec)
    """Server limits."""
    public_env: list[str] = Field(default_factory=list)
    """Environment variables (`${NAME}` in the spec) whose values may appear in the app. A value
    read from any other variable is replaced by `${NAME}` in the app's manifest, README and
    served metadata: the app can be shared without the secrets of the machine that built it."""
