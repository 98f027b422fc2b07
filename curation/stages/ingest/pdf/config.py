"""Config of the PDF path of `ingest` (nested as `ingest.pdf`): parsers, budget, routing mode, limits, model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from curation.engine.options import opt

BUILTIN_PARSERS = ("pdfium", "pypdf", "tesseract", "rapidocr")
PLUGIN_GROUP = "curation.pdf_parsers"
"""Entry-point group of parser plugins: `name = "package.module:Class"` in the plugin's own package metadata.
A config names parsers only; it never imports code (docs/SECURITY.md)."""
_OCR_LANG = re.compile(r"auto|\w+(/\w+)?(\+\w+(/\w+)?)*", re.ASCII)
"""Form of ingest.pdf.ocr_lang: auto, or Tesseract pack names joined by + (passed to Tesseract as -l)."""


def plugin_parsers() -> list[str]:
    """Names of the parser plugins installed in this Python (entry points of PLUGIN_GROUP)."""
    from importlib.metadata import entry_points

    return sorted(ep.name for ep in entry_points(group=PLUGIN_GROUP))


@dataclass
class PdfGateConfig:
    """Validity gate (AdaParse CLS I): cheap statistics that mark a page's text layer invalid."""

    min_chars_image_page: int = opt(100, "A page with fewer characters than this AND images covering >= min_image_area of it is a scan.")
    min_image_area: float = opt(0.3, "Share of the page covered by images above which a page with (almost) no text is treated as a scan.")
    max_cid_frac: float = opt(0.05, "Share of characters inside (cid:NN) tokens above which the text layer is garbage.")
    max_bad_char_frac: float = opt(0.05, "Share of U+FFFD / control / private-use characters above which the text layer is garbage.")
    max_space_frac: float = opt(0.45, "Share of whitespace above which the text layer is garbage (letters spaced out).")
    max_single_char_word_frac: float = opt(0.6, "Share of one-letter words above which the text layer is garbage (letters spaced out).")
    min_words_for_shape: int = opt(20, "Word-shape rules (whitespace, one-letter words) apply only to pages with at least this many words.")


@dataclass
class PdfConfig:
    enabled: bool = opt(True, "Parse PDF files and PDF records found inside WARC files.")
    mode: Literal["page", "document"] = opt(
        "page", "Route each page (AdaParse v2) or each whole document (v1) to a parser; alpha counts units of this kind.")
    cheap_parsers: list[str] = opt(
        ["pdfium", "pypdf"], "Cheap text-layer parsers; the first runs on every page, others only where predicted better.")
    expensive_parser: str = opt(
        "tesseract", "Parser for pages whose text layer is invalid or predicted poor: tesseract, rapidocr (Chinese + "
                     "English; the shipped router model has no output for it: set prior_accuracy.rapidocr), a name in "
                     "http_parsers, or an installed parser plugin (entry point group `curation.pdf_parsers`).")
    alpha: float = opt(0.1, "Max share of units (pages or documents) sent to the expensive parser as optional improvements, ranked "
                            "by expected improvement. Units failing the validity gate (no usable text layer) always go to it, "
                            "outside this budget (docs/DESIGN.md#pdf-budget-semantics).")
    expensive_hard_cap: float | None = opt(
        None, "Hard cap on the share of units sent to the expensive parser, unreadable ones included; null: no cap. "
              "A document whose unreadable pages the cap leaves out is dropped as pdf_ocr_budget_exhausted (rerun "
              "with a bigger cap to read it), never kept without its text.")
    budget_cpu_seconds_per_page: float | None = opt(
        None, "Compute budget in CPU-seconds per page; when set, alpha = (budget - t_cheap) / (t_expensive - t_cheap) from measured costs.")
    min_gain: float = opt(0.0, "The expensive parser is proposed only where its predicted accuracy beats the best cheap parser's by more than this.")
    model: str | None = opt(None, "Router model file (JSON); unset: the shipped model trained by `python -m tools.pdf_router train-router`.")
    costs: dict[str, float] = opt({}, "CPU-seconds per page per parser, overriding the costs measured when the model was trained.")
    prior_accuracy: dict[str, float] = opt(
        {}, "Predicted accuracy to assume for parsers the model has no output for (e.g. an HTTP GPU parser).")
    http_parsers: dict[str, str] = opt(
        {}, "GPU parsers served over HTTP, name -> endpoint URL (protocol in curation/stages/ingest/pdf/parsers.py HttpParser).")
    ocr_dpi: int = opt(200, "Resolution at which pages are rendered for OCR (Tesseract, RapidOCR); 200 read scans of "
                            "100-300 dpi as well as 250-400 did, faster (docs/DESIGN.md#pdf-ocr-engines).")
    ocr_lang: str = opt(
        "eng", "Tesseract language pack(s), e.g. eng+deu; auto: per page, the installed pack for the script of the "
               "page's text layer, or of the image by Tesseract's script detection (needs the osd pack), else eng "
               "(docs/DESIGN.md#pdf-ocr-engines). RapidOCR reads Chinese and English whatever this says.")
    expensive_concurrency: int = opt(2, "Spark tasks that run the expensive parser at once (it is the bottleneck).")
    doc_time_limit_s: float = opt(120.0, "Cheap pass of one PDF longer than this: the PDF is quarantined (pdf_timeout).")
    expensive_time_limit_s_per_page: float = opt(60.0, "Time limit of the expensive parser per page routed to it.")
    on_expensive_failure: Literal["fallback", "quarantine"] = opt(
        "fallback", "When the expensive parser fails or times out: keep the cheap text (noted per page), or quarantine the PDF.")
    memory_limit_mb: int = opt(4096, "Address-space limit of the parser sandbox process (protects workers from PDF bombs).")
    max_bytes: int = opt(200_000_000, "PDFs larger than this are quarantined (pdf_too_large).")
    max_pages: int = opt(2000, "PDFs with more pages than this are quarantined (pdf_too_many_pages).")
    require_eof_marker: bool = opt(True, "Quarantine PDFs without %%EOF in their last 2 KiB as truncated (pdf_truncated).")
    reference_dir: str | None = opt(
        None, "Folder of known texts <stem>.txt (pages split by form feed): measured accuracy is recorded per page (evaluation runs).")
    gate: PdfGateConfig = field(default_factory=PdfGateConfig, metadata={"doc": "Validity gate thresholds."})

    def validate(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.expensive_hard_cap is not None and not 0.0 <= self.expensive_hard_cap <= 1.0:
            raise ValueError(f"expensive_hard_cap must be in [0, 1] or null, got {self.expensive_hard_cap}")
        if self.budget_cpu_seconds_per_page is not None and self.budget_cpu_seconds_per_page < 0:
            raise ValueError("budget_cpu_seconds_per_page must be >= 0")
        if not self.cheap_parsers:
            raise ValueError("cheap_parsers must name at least one parser")
        known = [*BUILTIN_PARSERS, *self.http_parsers, *plugin_parsers()]
        for name in [*self.cheap_parsers, self.expensive_parser]:
            if name not in known:
                raise ValueError(f"unknown parser {name!r}; known: {', '.join(known)} (a config names parsers, it "
                                 f"never imports code: plugins register in the entry point group {PLUGIN_GROUP})")
        if self.expensive_parser in self.cheap_parsers:
            raise ValueError(f"{self.expensive_parser!r} is both a cheap and the expensive parser")
        if self.expensive_concurrency < 1:
            raise ValueError("expensive_concurrency must be >= 1")
        if self.doc_time_limit_s <= 0 or self.expensive_time_limit_s_per_page <= 0:
            raise ValueError("time limits must be > 0")
        if self.ocr_dpi < 50 or self.ocr_dpi > 600:
            raise ValueError(f"ocr_dpi must be in 50..600, got {self.ocr_dpi}")
        if "rapidocr" in (self.expensive_parser, *self.cheap_parsers):
            import importlib.util

            if importlib.util.find_spec("rapidocr_onnxruntime") is None:
                raise ValueError("parser rapidocr needs the rapidocr-onnxruntime package (scripts/setup.sh installs it)")
        if not _OCR_LANG.fullmatch(self.ocr_lang):
            raise ValueError(f"ocr_lang must be auto or Tesseract pack names joined by + (eng+deu, "
                             f"script/Latin), got {self.ocr_lang!r}")
        if self.model is not None:
            from pathlib import Path

            if not Path(self.model).exists():
                raise FileNotFoundError(f"model file not found: {self.model}")
