#!/usr/bin/env python
"""Screenshots of every UI page, so a reviewer can look without starting the server.

Starts `curation ui` on the given run folders (default: a demo run with every stage's columns, built
from the sample documents and a sample PDF), opens each page in headless Debian Chromium through
Playwright, and saves one PNG per page.

    .venv/bin/python scripts/screenshots.py                       # demo run -> docs/screenshots/
    .venv/bin/python scripts/screenshots.py runs/sample --out /tmp/shots
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = [("runs", "/"), ("funnel", "/run/{run}"), ("drops", "/run/{run}/drops"),
         ("document", None), ("distributions", "/run/{run}/distributions"), ("duplicates", "/run/{run}/duplicates"),
         ("cluster", None), ("containment", None), ("pdf-routing", "/run/{run}/pdf"), ("pdf-ab", "/run/{run}/pdf/ab"),
         ("whatif", "/run/{run}/whatif"), ("rewrites", "/run/{run}/rewrites")]


def demo_run(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tools import demo_run as demo

    lines = (ROOT / "sample_data" / "jsonl" / "documents.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(ln)["text"] for ln in lines if ln.strip()]
    return demo.build(folder / "demo", texts, pdf=ROOT / "sample_data" / "pdf" / "paper.pdf")


def first_link(page, selector: str) -> str | None:
    loc = page.locator(selector)
    return loc.first.get_attribute("href") if loc.count() else None


def shoot(dirs: list[str], out: Path, chromium: str, width: int, pdf_parser_seconds: int) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from curation.ui.runs import discover
    from curation.ui.server import serving

    run = next(iter(discover(dirs)))
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with serving(dirs) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.set_default_timeout(pdf_parser_seconds * 1000)
        extra: dict[str, str | None] = {}
        for name, path in PAGES:
            target = path.format(run=run) if path else extra.get(name)
            if not target:
                print(f"skip {name}: nothing to show in this run", file=sys.stderr)
                continue
            page.goto(url + target)
            page.wait_for_load_state("networkidle")
            if name == "drops":
                extra["document"] = first_link(page, "a.doclink")
            if name == "duplicates":
                extra["cluster"] = (first_link(page, '#clusters tr:has-text("near_duplicate") a.clusterlink')
                                    or first_link(page, "a.clusterlink"))
                extra["containment"] = first_link(page, "a.pairlink")
            file = out / f"{name}.png"
            page.screenshot(path=str(file), full_page=True, clip=None)
            _shrink(file, 1800)
            saved.append(file)
            print(file)
        browser.close()
    return saved


def _shrink(file: Path, max_height: int) -> None:
    """Keep PNGs small enough for the repo: crop very long pages to their top, 256-colour palette."""
    from PIL import Image

    with Image.open(file) as im:
        im = im.convert("RGB")
        if im.height > max_height:
            im = im.crop((0, 0, im.width, max_height))
        im.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(file, optimize=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="*", help="run folders (default: a demo run built from sample_data/)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="folder for the PNGs")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--timeout", type=int, default=60, help="seconds a page may take (OCR in the A/B view is slow)")
    a = ap.parse_args(argv)
    if not Path(a.chromium).exists():
        print(f"no chromium at {a.chromium} (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="curation-shots-") as tmp:
        dirs = a.dirs or [str(demo_run(Path(tmp)))]
        saved = shoot(dirs, Path(a.out), a.chromium, a.width, a.timeout)
    print(f"{len(saved)} screenshots in {a.out}")
    return 0 if saved else 1


if __name__ == "__main__":
    raise SystemExit(main())
