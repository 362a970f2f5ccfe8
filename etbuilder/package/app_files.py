"""The small files of an app that are not the model: requirements, Dockerfile, examples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from etbuilder.plan.tasks import TASK_RULES

TEMPLATE_DIR = Path(__file__).resolve().parent / "app_template"
CODE_FILES = ("server.py", "app_routes.py", "app_http.py", "app_metrics.py", "inference.py")
"""Copied verbatim from `app_template/`: the server (entry point, routes, HTTP, metrics) and
the inference core it shares with `etbuilder.package.predict_with_app`."""

REQUIREMENTS = """\
# What the app needs at run time: no torch, no transformers, no etbuilder.
# The HTTP server is the standard library's asyncio.
onnxruntime>=1.18
tokenizers>=0.19
numpy>=1.26
"""

DOCKERFILE = """\
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --create-home --uid 10001 app && chown -R app /app
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c \\
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v1/health')"
STOPSIGNAL SIGTERM
CMD ["python", "server.py", "--host", "0.0.0.0", "--port", "8000"]
"""

DOCKERIGNORE = """\
model/
__pycache__/
*.tar.gz
"""

DEFAULT_TEXTS: dict[str, list[Any]] = {
    "text": ["I loved every minute of it.", "The delivery was late and the box was damaged."],
    "pair": [
        ["How do I reset my password?", "What is the way to change my password?"],
        ["The cat sat on the mat.", "Stock markets fell sharply on Monday."],
    ],
    "sentence": ["Angela Merkel met Emmanuel Macron in Paris on Tuesday."],
}


def write_code(app: Path, onnxruntime_min: str | None = None) -> None:
    """Server, inference core, requirements and Dockerfile.

    onnxruntime_min: the version that saved the served (pre-optimized) graph; the app asks
    for at least its major.minor.
    """
    for name in CODE_FILES:
        shutil.copy2(TEMPLATE_DIR / name, app / name)
    requirements = REQUIREMENTS
    if onnxruntime_min:
        wanted = ".".join(onnxruntime_min.split(".")[:2])
        requirements = requirements.replace("onnxruntime>=1.18", f"onnxruntime>={wanted}")
    (app / "requirements.txt").write_text(requirements, encoding="utf-8")
    (app / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (app / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")


def example_inputs(task: str, kind: str, samples: list[Any]) -> list[Any]:
    """Up to three example inputs, taken from the evaluation set when there is one."""
    rule = TASK_RULES[task]
    picked: list[Any] = []
    for item in samples[:3]:
        if rule.inputs == "tokens":
            picked.append(" ".join(item))
        elif kind == "pair" and isinstance(item, list):
            picked.append(list(item))
        elif isinstance(item, str):
            picked.append(item)
        elif isinstance(item, list) and rule.pair_sides == "apart":
            picked.append(item[0])
    if not picked:
        picked = DEFAULT_TEXTS[rule.example_kind or kind]
    return picked


def write_examples(app: Path, inputs: list[Any]) -> Path:
    """examples/request.json and a curl line that posts it."""
    folder = app / "examples"
    folder.mkdir(exist_ok=True)
    request = folder / "request.json"
    request.write_text(json.dumps({"inputs": inputs}, indent=2, ensure_ascii=False) + "\n")
    (folder / "curl.sh").write_text(
        "#!/bin/sh\n# Post the example request to a running app (default port 8000).\n"
        'curl -s -X POST "http://${HOST:-127.0.0.1}:${PORT:-8000}/v1/predict" \\\n'
        '  -H "Content-Type: application/json" -d @"$(dirname "$0")/request.json"\n',
        encoding="utf-8",
    )
    return request
