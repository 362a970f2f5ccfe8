"""Inference core of a packaged etbuilder app: tokenize, run ONNX, decode per task.

Imports only numpy, tokenizers, onnxruntime and the standard library, so the app runs where
neither torch nor etbuilder is installed. `server.py` and `etbuilder.package.predict_with_app`
both use it, so what is measured at packaging time is exactly what is served.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

MAX_SEQUENCES_PER_RUN = 64
"""Largest batch handed to onnxruntime at once."""
MAX_PADDING = 0.25
"""A batch grows while its padding stays under this fraction of its real tokens: on a CPU the
cost is about linear in (padded) tokens, so padding costs more than a batch saves."""

DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)
"""onnxruntime graph rewrites left out: its fused SkipLayerNormalization kernel made a
minilm-l6 forward pass about 10-15% slower on an x86 CPU (Add + LayerNormalization is faster)."""

Input = str | Sequence[str]


class InputError(ValueError):
    """A request the app cannot answer; `status` is the HTTP status the server replies with."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class ModelLoadError(RuntimeError):
    """A file of the app that the model needs cannot be read: one line naming the file, why,
    and what to do (the server prints it and exits instead of a traceback)."""

    def __init__(self, path: Path, exc: BaseException) -> None:
        why = " ".join(str(exc).split()) or type(exc).__name__
        if len(why) > 300:
            why = why[:297] + "..."
        super().__init__(
            f"cannot load {path}: {why} -- the app folder is damaged or incomplete: extract it "
            "again from its archive (app.tar.gz), or rebuild it with `etb package RUN`"
        )
        self.path = path


def cpu_count() -> int:
    """Cores this process may use (the affinity mask, not the whole machine)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def session_options(threads: int, spin: bool = True, optimize: bool = True) -> ort.SessionOptions:
    """CPU session options; `optimize` False loads a graph optimized and saved beforehand."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if optimize
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def session(
    path: Path, threads: int, spin: bool = True, optimize: bool = True
) -> ort.InferenceSession:
    """An onnxruntime CPU session on `path` (see `session_options`)."""
    return ort.InferenceSession(
        str(path),
        session_options(threads, spin, optimize),
        providers=["CPUExecutionProvider"],
        disabled_optimizers=list(DISABLED_OPTIMIZERS) if optimize else None,
    )


def chunks(lengths: Sequence[int]) -> list[list[int]]:
    """Indices grouped into length-sorted batches with little padding, shortest first."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    current: list[int] = []
    tokens = 0
    for i in order:
        n = lengths[i]  # the longest so far: the batch pads to it
        padded = (len(current) + 1) * n
        if current and (
            len(current) >= MAX_SEQUENCES_PER_RUN or padded > (1 + MAX_PADDING) * (tokens + n)
        ):
            groups.append(current)
            current, tokens = [], 0
        current.append(i)
        tokens += n
    if current:
        groups.append(current)
    return groups


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class Predictor:
    """An app's model: `predict(inputs)` returns one JSON-ready dict per input, in order."""

    def __init__(
        self,
        app_dir: str | Path,
        model_file: str | None = None,
        threads: int | None = None,
        spin: bool = True,
    ) -> None:
        """spin: let onnxruntime's idle threads busy-wait (lower latency in a batch job; a
        server turns it off so that its event loop keeps the CPU between batches)."""
        self.app_dir = Path(app_dir)
        manifest_file = self.app_dir / "manifest.json"
        try:
            self.manifest: dict[str, Any] = json.loads(manifest_file.read_text(encoding="utf-8"))
            task = self.manifest["task"]
            served = self.manifest["model"]["served"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(manifest_file, exc) from None
        self.task: str = task["type"]
        self.output: str = task["output"]
        """What one answer holds: label, labels, value, entities or vector (see decode)."""
        self.labels: list[str] = list(task["labels"])
        self.max_length: int = int(task["max_length"])
        self.options: dict[str, Any] = dict(task.get("options", {}))
        self.pair: bool = self.manifest["inputs"]["kind"] == "pair"
        self.model_file: str = model_file or served
        try:
            self.tokenizer = Tokenizer.from_file(str(self.app_dir / "tokenizer.json"))
        except Exception as exc:  # tokenizers raises its own Exception subclass
            raise ModelLoadError(self.app_dir / "tokenizer.json", exc) from None
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length, strategy="longest_first")
        self.threads = threads or cpu_count()
        self.spin = spin
        try:
            self.session = self._open(self.model_file, pre_optimized=self.model_file == served)
        except Exception as exc:  # onnxruntime's Fail, InvalidProtobuf, NoSuchFile, ...
            raise ModelLoadError(self.app_dir / self.model_file, exc) from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.pad_id = int(self.manifest["tokenizer"].get("pad_id", 0))
        self.truncated = 0
        """Inputs cut to max_length tokens so far (the server's metrics read it)."""

    def _open(self, model_file: str, pre_optimized: bool) -> ort.InferenceSession:
        """The served graph was optimized and saved at packaging time (`model.optimized`):
        it opens with optimizations off (faster start); any other file is optimized now."""
        if pre_optimized and self.manifest["model"].get("optimized"):
            try:
                return self._session(model_file, optimize=False)
            except Exception:  # e.g. an onnxruntime that lays out this graph differently
                pass
        return self._session(model_file, optimize=True)

    def _session(self, model_file: str, optimize: bool) -> ort.InferenceSession:
        """An onnxruntime session on the CPU; `optimize`: run the graph optimizations now."""
        return session(self.app_dir / model_file, self.threads, self.spin, optimize)

    # -- validation ---------------------------------------------------------------------------

    def check(self, inputs: Any, max_items: int, max_chars: int) -> list[Input]:
        """Validate a request's `inputs`; raises InputError naming the first bad item."""
        if not isinstance(inputs, list):
            raise InputError("invalid_input", "`inputs` must be a JSON list")
        if not inputs:
            raise InputError("empty_input", "`inputs` is empty: send at least one item")
        if len(inputs) > max_items:
            raise InputError(
                "too_many_inputs",
                f"{len(inputs)} inputs in one request; the limit is {max_items}: split it",
                413,
            )
        for i, item in enumerate(inputs):
            texts = self._texts(item, i)
            for text in texts:
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise InputError(
                        "invalid_input", f"inputs[{i}] holds invalid Unicode (a lone surrogate)"
                    ) from None
                if len(text) > max_chars:
                    raise InputError(
                        "text_too_long",
                        f"inputs[{i}] has {len(text)} characters; the limit is {max_chars}",
                        413,
                    )
        return inputs

    def _texts(self, item: Any, i: int) -> list[str]:
        if self.pair:
            if (
                not isinstance(item, list)
                or len(item) != 2
                or not all(isinstance(t, str) for t in item)
            ):
                raise InputError(
                    "invalid_input",
                    f"inputs[{i}] must be a pair of strings [text_a, text_b], got {_show(item)}",
                )
            return list(item)
        if not isinstance(item, str):
            raise InputError("invalid_input", f"inputs[{i}] must be a string, got {_show(item)}")
        return [item]

    # -- the model ----------------------------------------------------------------------------

    def encode(self, inputs: Sequence[Input], pretokenized: bool = False) -> list[Encoding]:
        """Tokenize (truncating to max_length); pairs become [CLS] a [SEP] b [SEP]."""
        batch: list[Any] = [tuple(x) if self.pair else x for x in inputs]
        encodings = self.tokenizer.encode_batch(batch, is_pretokenized=pretokenized)
        self.truncated += sum(
            1 for e in encodings if len(e.ids) >= self.max_length and e.overflowing
        )
        return encodings

    def forward(self, encodings: Sequence[Encoding]) -> list[np.ndarray]:
        """Raw model outputs, one array per encoding (token outputs trimmed to its length).

        Encodings run in length-sorted batches whose padding stays small (see `chunks`).
        """
        outputs: list[np.ndarray] = [np.empty(0)] * len(encodings)
        for chunk in chunks([len(e.ids) for e in encodings]):
            result = self._run([encodings[i] for i in chunk])
            for row, index in enumerate(chunk):
                out = result[row]
                if self.output == "entities":
                    out = out[: len(encodings[index].ids)]
                outputs[index] = out
        return outputs

    def _run(self, encodings: Sequence[Encoding]) -> np.ndarray:
        feeds = self.feeds(encodings)
        return np.asarray(self.session.run(None, feeds)[0], dtype=np.float32)

    def feeds(self, encodings: Sequence[Encoding]) -> dict[str, np.ndarray]:
        """The model's inputs for `encodings`, padded to the longest."""
        width = max(len(e.ids) for e in encodings)
        shape = (len(encodings), width)
        arrays = {
            "input_ids": np.full(shape, self.pad_id, dtype=np.int64),
            "attention_mask": np.zeros(shape, dtype=np.int64),
            "token_type_ids": np.zeros(shape, dtype=np.int64),
        }
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            arrays["input_ids"][row, :n] = enc.ids
            arrays["attention_mask"][row, :n] = 1
            arrays["token_type_ids"][row, :n] = enc.type_ids
        return {name: arrays[name] for name in self.input_names}

    def predict(self, inputs: Sequence[Input]) -> list[dict[str, Any]]:
        """One prediction per input, in input order."""
        encodings = self.encode(inputs)
        outputs = self.forward(encodings)
        return [
            self.decode(out, enc, item)
            for out, enc, item in zip(outputs, encodings, inputs, strict=True)
        ]

    # -- decoding -----------------------------------------------------------------------------

    def decode(self, output: np.ndarray, encoding: Encoding, item: Input) -> dict[str, Any]:
        """Turn one raw output into the task's JSON prediction."""
        if self.output == "label":
            probs = _softmax(output.astype(np.float64))
            best = int(probs.argmax())
            return {
                "label": self.labels[best],
                "score": float(probs[best]),
                "scores": {label: float(p) for label, p in zip(self.labels, probs, strict=True)},
            }
        if self.output == "labels":
            probs = _sigmoid(output.astype(np.float64))
            threshold = float(self.options.get("threshold", 0.5))
            chosen = [self.labels[i] for i in np.argsort(-probs) if probs[i] >= threshold]
            return {
                "labels": chosen,
                "scores": {label: float(p) for label, p in zip(self.labels, probs, strict=True)},
            }
        if self.output == "value":
            return {"value": float(output.reshape(-1)[0])}
        if self.output == "vector":
            return {"vector": [float(v) for v in output]}
        assert isinstance(item, str)
        return {"entities": self.entities(output, encoding, item)}

    def word_tags(self, output: np.ndarray, encoding: Encoding) -> list[tuple[int, int, float]]:
        """(word index, tag index, probability) of each word's first sub-token."""
        probs = _softmax(output.astype(np.float64))
        seen: set[int] = set()
        tags = []
        for token, word in enumerate(encoding.word_ids):
            if word is None or word in seen:
                continue
            seen.add(word)
            best = int(probs[token].argmax())
            tags.append((word, best, float(probs[token, best])))
        return tags

    def entities(self, output: np.ndarray, encoding: Encoding, text: str) -> list[dict[str, Any]]:
        """Merge BIO word tags into entities with character offsets into `text`."""
        spans: dict[int, tuple[int, int]] = {}
        for token, word in enumerate(encoding.word_ids):
            if word is None:
                continue
            start, end = encoding.offsets[token]
            old = spans.get(word)
            spans[word] = (start, end) if old is None else (min(old[0], start), max(old[1], end))
        found: list[dict[str, Any]] = []
        current: dict[str, Any] | None = None
        for word, tag_index, prob in self.word_tags(output, encoding):
            prefix, _, kind = self.labels[tag_index].partition("-")
            start, end = spans[word]
            continues = current is not None and prefix == "I" and kind == current["type"]
            if continues and current is not None:
                current["end"] = end
                current["_probs"].append(prob)
                continue
            current = None
            if prefix in ("B", "I") and kind:
                current = {"type": kind, "start": start, "end": end, "_probs": [prob]}
                found.append(current)
        for entity in found:
            probs = entity.pop("_probs")
            entity["text"] = text[entity["start"] : entity["end"]]
            entity["score"] = float(math.fsum(probs) / len(probs))
        return [{k: e[k] for k in ("type", "text", "start", "end", "score")} for e in found]


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
