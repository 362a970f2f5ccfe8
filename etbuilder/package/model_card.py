"""README.md of an app: what it decides, on which data, how well, its limits, how to call it."""

from __future__ import annotations

import json
from typing import Any

from etbuilder.package.disclosure import public_name
from etbuilder.plan import FeaturesPlan, Plan, final_strategy
from etbuilder.plan.tasks import TASK_RULES


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _labels(labels: list[str]) -> str:
    shown = ", ".join(f"`{x}`" for x in labels[:20])
    return shown + (f" and {len(labels) - 20} more" if len(labels) > 20 else "")


def render(plan: Plan, manifest: dict[str, Any], example: dict[str, Any]) -> str:
    """The model card, in Markdown."""
    task, inputs, model = manifest["task"], manifest["inputs"], manifest["model"]
    rule = TASK_RULES[task["type"]]
    decides = rule.description.format(
        n=len(task["labels"]),
        labels=_labels(task["labels"]),
        threshold=task["options"].get("threshold", 0.5),
    )
    lines = [
        f"# {manifest['name']}",
        "",
        manifest["description"] or "A model packaged by etbuilder.",
        "",
        "## What it decides",
        "",
        f"Task `{task['type']}`: {decides}.",
        f"Input: {'pairs of texts `[text_a, text_b]`' if inputs['kind'] == 'pair' else 'texts'};"
        f" answer per input: `{rule.answer}`.",
        f"Backbone `{plan.backbone.name}` ({plan.backbone.architecture}, "
        f"{plan.backbone.parameters:,} parameters), strategy `{plan.strategy.type}`.",
        "",
        "## Data",
        "",
    ]
    for source in plan.data.sources:
        carved = " (carved from train)" if source.carved_from_train else ""
        lines.append(f"- {source.name}: `{public_name(source.path)}`{carved}")
    for profile in plan.data.profiles:
        lines.append(f"- {profile.name}: {profile.rows:,} rows")
    lines += ["", "## Quality", ""]
    lines += _quality(manifest)
    lines += [
        "",
        "## Served model",
        "",
        f"`{model['served']}` ({model['precision']}): {model['reason']}.",
        "",
        "## Limits",
        "",
        f"- at most {inputs['max_batch_size']} inputs per request,"
        f" {inputs['max_text_chars']:,} characters per text,"
        f" {inputs['max_body_bytes']:,} bytes per body (over: HTTP 413 with a JSON error)",
        f"- {inputs['truncation']}",
        "- the model only knows what its training data showed: check it on your own examples",
        *_etb_only(plan),
        *(
            [
                "- int8 scales activations per batch, so a score can move in its last digits"
                " (rarely a near-tie label) with the requests it is batched with (the quality"
                " gate checks batch 1 and the largest batch); for batch-independent fp32"
                " answers, package with `deploy.formats: [onnx]` and start the server with"
                " `ETB_MODEL_FILE=onnx/model.onnx`"
            ]
            if model["precision"] == "int8"
            else []
        ),
        "",
        "## How to call it",
        "",
        "```sh",
        "pip install -r requirements.txt",
        "python server.py --host 127.0.0.1 --port 8000     # or: etb serve .",
        "curl -s -X POST http://127.0.0.1:8000/v1/predict -H 'Content-Type: application/json' \\",
        f"  -d '{json.dumps(example, ensure_ascii=False)}'",
        "```",
        "",
        "```python",
        "import json, urllib.request",
        "",
        f"body = json.dumps({example!r}).encode()",
        'req = urllib.request.Request("http://127.0.0.1:8000/v1/predict", data=body,',
        '                             headers={"Content-Type": "application/json"})',
        'print(json.load(urllib.request.urlopen(req))["predictions"])',
        "```",
        "",
        "In process, without a server: `from inference import Predictor;"
        " Predictor('.').predict([...])`.",
        "Docker: `docker build -t app . && docker run -p 8000:8000 app`."
        " API docs (offline, no external assets): http://127.0.0.1:8000/docs and /openapi.json.",
        "",
        "## Operating it",
        "",
        "- `GET /metrics`: Prometheus counters and histograms (requests by path and status,"
        " errors by code, latency, micro-batch sizes, inputs, texts truncated, timeouts,"
        " client disconnects) and gauges (queue depth, requests in flight)",
        "- `GET /v1/info`: model, labels, measured metrics, versions; `GET /v1/health`: liveness",
        "- one JSON access-log line per request on stdout (no request text unless"
        " `ETB_LOG_TEXTS=1`); `--no-access-log` turns it off",
        "- SIGTERM/SIGINT: stop accepting, answer every request already read (up to"
        " `ETB_SHUTDOWN_GRACE_S`, 30 s), then exit",
        "- slow clients: the request line and headers must arrive within `ETB_HEADER_TIMEOUT_S`"
        " (10 s) and be under 16 KiB (else 408 / 431); the whole body within"
        " `ETB_BODY_TIMEOUT_S` (30 s, else 408); an idle kept-alive connection closes after"
        " `ETB_KEEPALIVE_S` (5 s); a slow body never holds up other requests' micro-batch",
        "- `--workers N`: N processes on one port (SO_REUSEPORT), the cores divided among them"
        " (or `ETB_THREADS` onnxruntime threads each); `ETB_SPIN=0` stops onnxruntime's threads"
        " from busy-waiting during a request (lower CPU, slightly slower answers)",
        "",
        "## Provenance",
        "",
        f"Built by etbuilder {manifest['etbuilder_version']} from run `{manifest['created_from']}`"
        f" (spec hash `{manifest['spec_hash']}`) on {manifest['created_at']}.",
        "",
    ]
    return "\n".join(lines)


def _etb_only(plan: Plan) -> list[str]:
    """A features run's mean/[CLS] pooling or MLP head is not what transformers rebuilds."""
    final = final_strategy(plan.strategy)
    if not isinstance(final, FeaturesPlan):
        return []
    if final.pooling not in ("mean", "cls") and final.head != "mlp":
        return []
    return [
        "- `model/` needs etbuilder to load (config `etb_pooling`/`etb_head`; `etb predict`):"
        " a plain transformers pipeline would use BERT's pooler or a fresh linear head instead"
        " and answer differently; the ONNX models compute the trained function"
    ]


def _quality(manifest: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    run_metrics = manifest.get("run_metrics") or {}
    flat = {k: v for k, v in run_metrics.items() if isinstance(v, int | float)}
    if flat:
        lines.append("Test metrics of the trained model (PyTorch, from the run):")
        lines.append("")
        lines += [f"- {k}: {_fmt(v)}" for k, v in sorted(flat.items())]
        lines.append("")
    q = manifest.get("quality")
    if not q:
        lines.append(f"int8 was not measured: {manifest.get('quality_note', 'no test examples')}.")
        return lines
    at = f" at batch {q['batch']}" if q.get("batch") else ""
    checks = sum(len(r["checks"]) for r in (q.get("gate") or {}).get("recipes", []))
    lines.append(
        f"ONNX fp32 vs int8 on {q['source']}{at}"
        + (f" (the worst of the quality gate's {checks} checks):" if checks else ":")
    )
    lines.append("")
    lines.append("| metric | fp32 | int8 |")
    lines.append("|---|---|---|")
    for key in sorted(set(q["fp32"]) | set(q["int8"])):
        lines.append(f"| {key} | {_fmt(q['fp32'].get(key))} | {_fmt(q['int8'].get(key))} |")
    if q.get("agreement") is not None:
        lines.append(f"| {q['agreement_kind']} (int8 vs fp32) | | {_fmt(q['agreement'])} |")
    return lines
