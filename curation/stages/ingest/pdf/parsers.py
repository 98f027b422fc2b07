"""PDF parsers behind one interface: `parse(data, pages) -> one text per page`, plus a cost model.

Why one interface: the router only needs to know, for every parser, what it costs per page and how good it
is expected to be; the web UI compares any two parsers on the same page. Licences of what each one pulls in:
pypdfium2 (Apache-2.0 / BSD-3 PDFium), pypdf (BSD-3), Tesseract (Apache-2.0, called as a program through
pytesseract, Apache-2.0), RapidOCR (rapidocr-onnxruntime and its PP-OCRv4 models, Apache-2.0; onnxruntime,
MIT; OpenCV, Apache-2.0). PyMuPDF (AGPL) is deliberately not used. GPU parsers (Nougat, Marker, olmOCR)
plug in over HTTP (`HttpParser`), so no model or licence of theirs is shipped. What each OCR engine is good at
and how its defaults were measured: docs/DESIGN.md#pdf-ocr-engines.

Page numbers are 1-based everywhere in this package (`pages=[1, 3]`); `pages=None` means all pages.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import urllib.request
from dataclasses import dataclass, field
from typing import Any, ClassVar

from curation.stages.ingest.pdf.document import PdfOpenError, open_pdf, page_indices

CHEAP, EXPENSIVE = "cheap", "expensive"


def clean_text(text: str) -> str:
    """Line ends to \\n, no NULs, no trailing spaces: parsers differ in these and nothing else should care."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").replace("\x02\n", "").replace("\x02", "")
    return re.sub(r"[ \t]+\n", "\n", text).strip("\n")


@dataclass
class Parser:
    """A PDF parser: `name`, `kind` (cheap | expensive), and a cost model in CPU-seconds per page.

    `seconds_per_page` is the prior; routing uses measured costs when the model file or config has them.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = CHEAP
    seconds_per_page: float = 0.01
    licence: ClassVar[str] = ""

    def cost(self, n_pages: int) -> float:
        """Expected CPU-seconds to parse `n_pages` pages."""
        return self.seconds_per_page * n_pages

    def parse(self, data: bytes, pages: list[int] | None = None) -> list[str]:
        raise NotImplementedError


@dataclass
class PdfiumParser(Parser):
    """The cheap primary parser: PDFium's text layer (what AdaParse does with PyMuPDF, without the AGPL)."""

    name: ClassVar[str] = "pdfium"
    kind: ClassVar[str] = CHEAP
    licence: ClassVar[str] = "pypdfium2: Apache-2.0 or BSD-3-Clause; PDFium: BSD-3-Clause / Apache-2.0"
    seconds_per_page: float = 0.005

    def parse(self, data: bytes, pages: list[int] | None = None) -> list[str]:
        pdf = open_pdf(data)
        try:
            out = []
            for i in page_indices(len(pdf), pages):
                page = pdf[i]
                tp = page.get_textpage()
                out.append(clean_text(tp.get_text_bounded()))
                tp.close()
                page.close()
            return out
        finally:
            pdf.close()


@dataclass
class PypdfParser(Parser):
    """The second cheap parser: pypdf's pure-Python text extraction (different font/encoding handling)."""

    name: ClassVar[str] = "pypdf"
    kind: ClassVar[str] = CHEAP
    licence: ClassVar[str] = "pypdf: BSD-3-Clause"
    seconds_per_page: float = 0.03

    def parse(self, data: bytes, pages: list[int] | None = None) -> list[str]:
        import logging

        import pypdf

        logging.getLogger("pypdf").setLevel(logging.ERROR)
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception as e:  # pypdf raises several types here
                raise PdfOpenError("pdf_encrypted", str(e)) from e
        n = len(reader.pages)
        out = []
        for i in page_indices(n, pages):
            try:
                out.append(clean_text(reader.pages[i].extract_text() or ""))
            except Exception:  # one broken content stream should not lose the other pages
                out.append("")
        return out


@dataclass
class TesseractParser(Parser):
    """An expensive parser: pages rendered to images (PDFium) and read by Tesseract OCR (LSTM engine).

    It ignores the text layer entirely, so it works for scans and for PDFs whose text layer is garbage.
    OMP_THREAD_LIMIT=1 is forced: Tesseract's own threading is slower than one page per core.
    `dpi_mode` "source" renders a scanned page at its image's own resolution (within a floor and a cap,
    ocr.render_dpi) and other pages at `dpi`; `lang` "auto" picks the installed language pack from the script of
    the page's text layer, or of the image by Tesseract's OSD (ocr.langs_for_script). Defaults measured on dense
    real pages: docs/DESIGN.md#pdf-ocr-engines.
    """

    name: ClassVar[str] = "tesseract"
    kind: ClassVar[str] = EXPENSIVE
    licence: ClassVar[str] = "Tesseract: Apache-2.0 (system program); pytesseract: Apache-2.0"
    seconds_per_page: float = 1.0
    dpi: int = 200
    lang: str = "eng"
    psm: int = 3
    oem: int = 1
    dpi_mode: str = "fixed"
    dpi_floor: int = 200
    dpi_cap: int = 300

    def page_settings(self, pdf: Any, index: int) -> tuple[int, str | None]:
        """(render dpi, language or None when it must come from the image) of page `index` (0-based)."""
        from curation.stages.ingest.pdf.ocr import langs_for_script, page_image_info, render_dpi, text_script

        dpi = self.dpi
        if self.dpi_mode != "fixed":
            dpi = render_dpi(*page_image_info(pdf, index), fixed_dpi=self.dpi, mode=self.dpi_mode,
                             floor=self.dpi_floor, cap=self.dpi_cap)
        lang: str | None = self.lang
        if self.lang == "auto":
            page = pdf[index]
            tp = page.get_textpage()
            script = text_script(tp.get_text_bounded())
            tp.close()
            page.close()
            lang = langs_for_script(script) if script else None
        return dpi, lang

    def parse(self, data: bytes, pages: list[int] | None = None) -> list[str]:
        import pytesseract

        from curation.stages.ingest.pdf.ocr import langs_for_script, osd_script
        from curation.stages.ingest.pdf.render import render_page_image

        os.environ["OMP_THREAD_LIMIT"] = "1"
        pdf = open_pdf(data)
        try:
            idx = page_indices(len(pdf), pages)
            settings = [self.page_settings(pdf, i) for i in idx]
        finally:
            pdf.close()
        out = []
        for i, (dpi, lang) in zip(idx, settings, strict=True):
            img = render_page_image(data, i + 1, dpi=dpi, grey=True)
            if lang is None:
                lang = langs_for_script(osd_script(img))
            text = pytesseract.image_to_string(img, lang=lang, config=f"--psm {self.psm} --oem {self.oem}")
            out.append(clean_text(text))
        return out


@dataclass
class RapidOcrParser(Parser):
    """An expensive parser: pages rendered (PDFium) and read by RapidOCR, PP-OCRv4 text detection and recognition
    (Chinese + English) on ONNX Runtime, CPU; the models ship inside the rapidocr-onnxruntime wheel.

    Detected line boxes are put in reading order by column detection on white vertical gaps (ocr.reading_order);
    word spaces the Chinese+English recogniser drops are restored by a space offset in CTC decoding
    (ocr.SpaceBiasedCtc). `threads` is ONNX Runtime's per page: 1, like Tesseract, so cores go to parallel pages
    and CPU-seconds stay comparable. The engine is loaded once per (sandbox) process.
    """

    name: ClassVar[str] = "rapidocr"
    kind: ClassVar[str] = EXPENSIVE
    licence: ClassVar[str] = ("rapidocr-onnxruntime and its PP-OCRv4 models: Apache-2.0; onnxruntime: MIT; "
                              "opencv-python-headless: Apache-2.0")
    seconds_per_page: float = 6.0  # measured: 6.0 CPU-s on dense pages, 3.3x Tesseract's 1.8 (DESIGN.md)
    dpi: int = 200
    dpi_mode: str = "fixed"
    dpi_floor: int = 200
    dpi_cap: int = 300
    threads: int = 1
    max_side_len: int = 2000
    space_boost: float = 3.5
    text_score: float = 0.5

    def parse(self, data: bytes, pages: list[int] | None = None) -> list[str]:
        import numpy as np

        from curation.stages.ingest.pdf.ocr import (
            page_image_info,
            rapidocr_boxes,
            rapidocr_engine,
            reading_order,
            render_dpi,
        )
        from curation.stages.ingest.pdf.render import render_page_image

        engine = rapidocr_engine(self.threads, self.max_side_len, self.space_boost)
        pdf = open_pdf(data)
        try:
            idx = page_indices(len(pdf), pages)
            dpis = [self.dpi if self.dpi_mode == "fixed"
                    else render_dpi(*page_image_info(pdf, i), fixed_dpi=self.dpi, mode=self.dpi_mode,
                                    floor=self.dpi_floor, cap=self.dpi_cap) for i in idx]
        finally:
            pdf.close()
        out = []
        for i, dpi in zip(idx, dpis, strict=True):
            img = np.asarray(render_page_image(data, i + 1, dpi=dpi, grey=True))
            out.append(clean_text(reading_order(rapidocr_boxes(engine, img, self.text_score))))
        return out


@dataclass
class HttpParser(Parser):
    """Plugin point for GPU parsers (Nougat, Marker, olmOCR, ...) served behind an HTTP endpoint.

    Protocol (JSON both ways): POST `endpoint` with `{"pdf": <base64 PDF bytes>, "pages": [1-based ints] | null}`;
    the answer is `{"pages": [<text>, ...]}`, one text per requested page, in order. Anything else is an error.
    """

    name: str = "http"  # type: ignore[misc]  # instances carry their own name (e.g. "nougat")
    kind: str = EXPENSIVE  # type: ignore[misc]
    licence: ClassVar[str] = "whatever the served model's licence is; nothing is shipped"
    endpoint: str = ""
    seconds_per_page: float = 0.5
    timeout_s: float = 120.0
    headers: dict[str, str] = field(default_factory=dict)

    def parse(self, data: bytes, pages: list[int] | None = None) -> list[str]:
        if not self.endpoint:
            raise ValueError(f"HTTP parser {self.name!r} has no endpoint")
        body = json.dumps({"pdf": base64.b64encode(data).decode("ascii"), "pages": pages}).encode()
        req = urllib.request.Request(self.endpoint, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **self.headers})
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 (configured endpoint)
            answer = json.loads(resp.read().decode("utf-8"))
        texts = answer.get("pages") if isinstance(answer, dict) else None
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ValueError(f"HTTP parser {self.name!r}: answer has no list of page texts")
        if pages is not None and len(texts) != len(pages):
            raise ValueError(f"HTTP parser {self.name!r}: asked for {len(pages)} pages, got {len(texts)}")
        return [clean_text(t) for t in texts]


PARSERS: dict[str, Parser] = {
    "pdfium": PdfiumParser(),
    "pypdf": PypdfParser(),
    "tesseract": TesseractParser(),
    "rapidocr": RapidOcrParser(),
}


def get_parser(name: str, http_endpoints: dict[str, str] | None = None,
               costs: dict[str, float] | None = None) -> Parser:
    """A parser by name: a built-in one, an HTTP endpoint named in config, or an installed plugin (entry point).

    Never an import path from config: whoever can edit a config must not be able to run code (docs/SECURITY.md).
    """
    import copy
    from importlib.metadata import entry_points

    from curation.stages.ingest.pdf.config import PLUGIN_GROUP, plugin_parsers

    costs = costs or {}
    if http_endpoints and name in http_endpoints:
        parser: Parser = HttpParser(name=name, endpoint=http_endpoints[name])
    elif name in PARSERS:
        parser = copy.copy(PARSERS[name])
    elif plugins := [ep for ep in entry_points(group=PLUGIN_GROUP) if ep.name == name]:
        parser = plugins[0].load()()
    else:
        known = [*PARSERS, *(http_endpoints or {}), *plugin_parsers()]
        raise KeyError(f"unknown PDF parser {name!r}; known: {', '.join(known)} (plugins register in the entry point "
                       f"group {PLUGIN_GROUP})")
    if name in costs:
        parser.seconds_per_page = float(costs[name])
    return parser
