"""HTML to main-content text: resiliparse (fast default), trafilatura (accurate) and a per-page router.

The router runs resiliparse on every page and re-extracts with trafilatura, within a budget, the pages whose
`boilerplate_score` (share of output characters in lines under `SHORT_LINE_WORDS` words) is highest.
Design (the signal, why a budget): docs/DESIGN.md#html-extraction-router
"""

from __future__ import annotations

from dataclasses import dataclass

SHORT_LINE_WORDS = 6
EXTRACTORS = ("resiliparse", "trafilatura", "router")
SCORED = "resiliparse+score"
"""Internal method: resiliparse text plus the router signal (first phase of the router)."""


@dataclass
class Extraction:
    text: str
    extractor: str
    route_score: float | None = None
    ms: float | None = None
    """Extraction wall time in milliseconds (set by the sandbox)."""
    charset: str | None = None
    """Codec the HTML bytes were decoded with, when the extractor was given bytes (see `decode_page`)."""
    charset_source: str | None = None
    """Where that codec came from: bom | http | meta | utf8 | detected."""


def decode_page(html: str | bytes | memoryview, http_charset: str | None = None
                ) -> tuple[str, str | None, str | None]:
    """(text, codec, source): bytes are decoded here (BOM, HTTP charset, meta, detection); a str passes as is.

    Decoding happens where the extraction does (the sandbox worker), so the reading process never
    builds the page's str and only raw bytes cross the process boundary.
    """
    if isinstance(html, str):
        return html, None, None
    from curation.stages.ingest.web.charset import decode_html

    return decode_html(html, http_charset)


BOILERPLATE_CLASSES = ("caption", "credit", "footer", "share", "social", "related", "newsletter", "outbrain",
                       "taboola")
"""Class-name fragments of page furniture that resiliparse's main-content rules let through: photo captions and
credits, article footers, share/social bars, related-story and newsletter boxes, recommendation widgets. The
fragments are the generic ones of trafilatura's discard list (no site-specific names); elements whose class
contains one are skipped with their subtree. Costs ~8% of the extraction; +1.7 F1 points on the scrapinghub set,
+1.9 on the trafilatura set (notes/issue-3.md)."""
_SKIP = [f'[class*="{c}"]:not(body):not(html)' for c in BOILERPLATE_CLASSES]
# comments=False: reader comment sections are not main content (same as trafilatura's include_comments=False
# below and datatrove's setting); alt texts, link targets, form fields and bullets are not prose either;
# post_meta=False: bylines and publication dates are not article text (trafilatura's with_metadata=False).
_OPTIONS = dict(main_content=True, comments=False, alt_texts=False, links=False, form_fields=False, noscript=False,
                list_bullets=False, post_meta=False)
_MIN_KEPT = 0.2
"""When skipping those elements leaves less than this share of the text extracted without them (a wrapper
around the whole article carried such a class), the page is extracted again without the skip list."""


def resiliparse_text(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    text = extract_plain_text(tree, skip_elements=_SKIP, **_OPTIONS) or ""
    if len(text) < 500:  # cheap check first: only short outputs can have lost a whole article
        plain = extract_plain_text(tree, **_OPTIONS) or ""
        if len(text) < _MIN_KEPT * len(plain):
            return plain
    return text


def trafilatura_text(html: str, url: str | None = None) -> str:
    import trafilatura

    # fast=True skips trafilatura's readability/jusText fallback: ~3x faster, same F1 on our benchmark.
    return trafilatura.extract(html, url=url, fast=True, include_comments=False, include_tables=True,
                               deduplicate=False, with_metadata=False) or ""


def boilerplate_score(text: str, html_chars: int) -> float:
    """Share of characters in short lines; 1.0 when the output is near empty for a large page."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    total = sum(len(ln) for ln in lines)
    if total < 200 and html_chars > 20_000:
        return 1.0
    if not total:
        return 0.0
    short = sum(len(ln) for ln in lines if len(ln.split()) < SHORT_LINE_WORDS)
    return short / total


def extract(html: str, method: str = "resiliparse", url: str | None = None,
            router_threshold: float = 0.35) -> Extraction:
    if method == "resiliparse":
        return Extraction(resiliparse_text(html), "resiliparse")
    if method == "trafilatura":
        return Extraction(trafilatura_text(html, url), "trafilatura")
    if method == SCORED:
        fast = resiliparse_text(html)
        return Extraction(fast, "resiliparse", boilerplate_score(fast, len(html)))
    if method == "router":  # one page alone, threshold only (no budget): used without a window
        fast = resiliparse_text(html)
        score = boilerplate_score(fast, len(html))
        if score > router_threshold:
            accurate = trafilatura_text(html, url)
            if accurate.strip():
                return Extraction(accurate, "trafilatura", score)
        return Extraction(fast, "resiliparse", score)
    raise ValueError(f"unknown extractor {method!r} (known: {', '.join(EXTRACTORS)})")
