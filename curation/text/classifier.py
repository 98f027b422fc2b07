"""fastText document classifiers (DCLM-style quality classifier): training and batch scoring.

Training follows DCLM's `fasttext-oh-eli5` recipe: one document per line, label `__label__hq` for
positives and `__label__cc` for negatives, word bigrams, otherwise fastText's supervised defaults.
Texts are flattened to one line (fastText reads one example per line) and lower-cased is NOT
applied: DCLM trains on raw text, and the scorer must see texts exactly as the trainer did.

`FastTextScorer` loads a model lazily once per Python process (a module-level cache keyed by path
and file mtime), so a Spark worker that runs many batches loads it once, and the scorer object itself
stays small and picklable (only the path travels to executors).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

NEGATIVE_LABEL = "cc"
_WS = re.compile(r"\s+")
_MODELS: dict[tuple[str, float], Any] = {}
_LOCK = threading.Lock()


def single_line(text: str | None) -> str:
    """fastText treats a newline as the end of an example: collapse all whitespace to single spaces."""
    if not text:
        return ""
    return _WS.sub(" ", text).strip()


def _quiet_fasttext() -> Any:
    import fasttext

    # fasttext prints a deprecation warning on every load_model; silence it once.
    fasttext.FastText.eprint = lambda *args, **kwargs: None
    return fasttext


def load_model(path: str | os.PathLike) -> Any:
    """The fastText model at `path`, loaded once per process (reloaded if the file changes)."""
    p = str(Path(path).resolve())
    key = (p, os.stat(p).st_mtime)
    model = _MODELS.get(key)
    if model is None:
        with _LOCK:
            model = _MODELS.get(key)
            if model is None:
                model = _quiet_fasttext().load_model(p)
                _MODELS[key] = model
    return model


def train_fasttext(positives: list[str], negatives: list[str], output: str | Path, *, label: str = "hq",
                   word_ngrams: int = 2, epoch: int = 5, dim: int = 100, lr: float = 0.1, min_count: int = 1,
                   bucket: int = 200_000, seed: int = 0, quantize: bool = False, threads: int = 1,
                   cutoff: int = 50_000, dsub: int = 2) -> Path:
    """Train a binary fastText classifier (`__label__<label>` vs `__label__cc`) and save it to `output`.

    Defaults are fastText's supervised defaults (DCLM: "bigrams, otherwise defaults"). With
    `quantize=True` the model is product-quantised (`.ftz`-style: the input matrix is cut to the
    `cutoff` rows with the largest norm and compressed with sub-vectors of `dsub`), which shrinks it
    from ~800 MB (2M hash buckets x 100 dims) to 1-3 MB at a small accuracy cost; quantising takes
    10-50 s on one core whatever the data size, so it is off by default (tests, throw-away models).
    `bucket` (hash buckets for word n-grams) defaults to 200k instead of fastText's 2M: an unquantised
    model is (vocabulary + bucket) x dim floats, 80 MB instead of 800 MB, and training sets of up to
    ~10^5 documents see few collisions; pass bucket=2_000_000 for DCLM's exact setting.
    Training uses one thread by default so that the same seed and data give the same model.
    """
    if not positives or not negatives:
        raise ValueError(f"need positive and negative examples (got {len(positives)} and {len(negatives)})")
    if label == NEGATIVE_LABEL:
        raise ValueError(f"the positive label must differ from the negative label {NEGATIVE_LABEL!r}")
    rows = [f"__label__{label} {single_line(t)}" for t in positives if single_line(t)]
    rows += [f"__label__{NEGATIVE_LABEL} {single_line(t)}" for t in negatives if single_line(t)]
    random.Random(seed).shuffle(rows)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    params = {"wordNgrams": word_ngrams, "epoch": epoch, "dim": dim, "lr": lr, "minCount": min_count, "bucket": bucket,
              "seed": seed, "thread": threads, "verbose": 0}
    quant = {"qnorm": True, "retrain": False, "cutoff": cutoff, "dsub": dsub} if quantize else None
    with tempfile.TemporaryDirectory(prefix="curation-fasttext-") as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
        tmp_out = out.with_name(out.name + ".tmp")
        _train_isolated(train_file, tmp_out, params, quant)
    os.replace(tmp_out, out)
    return out


def _train_isolated(train_file: Path, out: Path, params: dict, quant: dict | None) -> None:
    """Train in a fresh Python process.

    fastText's trainer intermittently reports "Encountered NaN" when the calling process has already run
    other native libraries (seen after the `tokenizers` Rust library had encoded text); a clean process
    trains reliably, and a crash there cannot take a Spark worker or the CLI down with it.
    """
    job = json.dumps({"input": str(train_file), "output": str(out), "params": params, "quantize": quant})
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    r = subprocess.run([sys.executable, "-m", "curation.text.classifier", job], env=env, capture_output=True, text=True)
    if r.returncode != 0 or not out.is_file():
        raise RuntimeError(f"fastText training failed: {(r.stderr or r.stdout).strip().splitlines()[-1:] or r.returncode}")


def _train_job(job: dict) -> None:
    fasttext = _quiet_fasttext()
    model = fasttext.train_supervised(input=job["input"], **job["params"])
    if job["quantize"]:
        model.quantize(input=None, **job["quantize"])  # retrain=False keeps the trained weights
    model.save_model(job["output"])


class FastTextScorer:
    """Probability of the positive label for a batch of texts; picklable, model loaded lazily per process."""

    def __init__(self, model_path: str | os.PathLike, label: str = "hq"):
        self.model_path = str(model_path)
        self.label = f"__label__{label}"
        if not Path(self.model_path).is_file():
            raise FileNotFoundError(f"fastText model not found: {self.model_path}")

    @property
    def model(self) -> Any:
        return load_model(self.model_path)

    def predict(self, texts: list[str | None]) -> np.ndarray:
        """P(label) per text (float64). Empty or null texts get NaN: there is nothing to judge."""
        out = np.full(len(texts), np.nan, dtype=np.float64)
        lines = [single_line(t) for t in texts]
        idx = [i for i, line in enumerate(lines) if line]
        if not idx:
            return out
        model = self.model
        labels = model.get_labels()
        if self.label not in labels:
            raise ValueError(f"model {self.model_path} has no label {self.label} (labels: {labels})")
        k = len(labels)
        pred_labels, pred_probs = model.predict([lines[i] for i in idx], k=k, threshold=0.0)
        for j, (labs, probs) in enumerate(zip(pred_labels, pred_probs, strict=True)):
            p = 0.0
            for lab, pr in zip(labs, probs, strict=True):
                if lab == self.label:
                    p = float(pr)
                    break
            out[idx[j]] = min(max(p, 0.0), 1.0)
        return out

    def __repr__(self) -> str:
        return f"FastTextScorer({self.model_path!r})"


if __name__ == "__main__":  # the isolated training process (see _train_isolated)
    _train_job(json.loads(sys.argv[1]))
