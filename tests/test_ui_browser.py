"""The UI in headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

Clicks through every page on a real run of the sample data and on a run with every stage's columns,
records an A/B preference, moves the what-if threshold, and checks that a document holding `<script>`
and `<img onerror>` renders as text and runs nothing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("playwright")
pytest.importorskip("duckdb")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian chromium is not installed", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from curation.ui.pdf import LABELS_FILE  # noqa: E402
from curation.ui.server import serving  # noqa: E402
from tools import demo_run as demo  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.spark, pytest.mark.heavy]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NAV = ["Funnel", "Drops", "Distributions", "Duplicates", "PDF routing", "What-if", "Rewrites"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, spark, sample_dir) -> dict[str, Path]:
    from curation.config import load_config
    from curation.engine.runner import run_pipeline

    root = tmp_path_factory.mktemp("uib")
    real = root / "sample"
    cfg = load_config(str(Path(__file__).resolve().parents[1] / "configs" / "sample.yaml"),
                      [f"input.paths=[{sample_dir / 'jsonl'}]", f"output.dir={real}"])
    run_pipeline(cfg, spark=spark)
    texts = [json.loads(ln)["text"] for ln in (sample_dir / "jsonl" / "documents.jsonl").read_text().splitlines()[:150]]
    full = demo.build(root / "full", texts, pdf=sample_dir / "pdf" / "paper.pdf")
    return {"sample": real, "full": full}


@pytest.fixture(scope="module")
def site(runs):
    with serving([str(runs["sample"]), str(runs["full"])]) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    pg = ctx.new_page()
    pg.errors = []  # type: ignore[attr-defined]
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    yield pg
    ctx.close()


def click_through(page, site: str, run: str) -> dict[str, str]:
    page.goto(site + "/")
    page.get_by_role("link", name=run, exact=True).click()
    seen = {}
    for name in NAV:
        page.locator("nav.runnav").get_by_role("link", name=name, exact=True).click()
        page.wait_for_load_state("load")
        assert page.locator("h1").count() == 1, name
        seen[name] = page.locator("main").inner_text()
    return seen


def test_click_through_every_page_of_the_real_sample_run(page, site):
    seen = click_through(page, site, "sample")
    # configs/sample.yaml runs the whole pipeline; over the JSONL sample alone there are no PDFs.
    assert "normalize" in seen["Funnel"] and "annotate" in seen["Funnel"] and page.errors == []
    assert "language:" in seen["Drops"]
    assert "No data for" not in seen["What-if"]
    assert "No data for" in seen["PDF routing"]
    page.goto(site + "/run/sample")
    assert page.locator("svg.funnel").count() == 2


def test_click_through_every_page_of_a_full_run(page, site):
    seen = click_through(page, site, "full")
    for name in NAV:
        assert "No data for" not in seen[name] or name == "PDF routing", name
    assert page.errors == []


def test_drops_to_document_with_history(page, site):
    page.goto(site + "/run/full/drops")
    page.locator("a.reason", has_text="near_duplicate").click()
    page.locator("a.doclink").first.click()
    expect(page.locator("#history")).to_contain_text("02-dedup")
    expect(page.locator("#history")).to_contain_text("near_duplicate")
    assert page.locator("#doctext").inner_text().strip()


def test_duplicate_cluster_and_containment(page, site):
    page.goto(site + "/run/full/duplicates")
    page.locator("a.clusterlink").first.click()
    assert page.locator("#members section.member").count() >= 2
    page.go_back()
    page.locator("a.pairlink").first.click()
    assert page.locator("#container mark").count() >= 1


def test_record_an_ab_preference(page, site, runs):
    labels = runs["full"] / "labels" / LABELS_FILE
    before = labels.read_text().count("\n") if labels.exists() else 0
    page.goto(site + "/run/full/pdf")
    page.locator("#ablink").click()
    img = page.locator("#pageimg")
    expect(img).to_have_js_property("complete", True)
    assert img.evaluate("i => i.naturalWidth") > 100
    assert page.locator("#left").inner_text().strip() or page.locator("#right").inner_text().strip()
    page.fill("#reviewer", "browser-test")
    page.locator("#choose-left").click()
    expect(page.locator("#saved")).to_be_visible()
    lines = labels.read_text().splitlines()
    assert len(lines) == before + 1
    rec = json.loads(lines[-1])
    assert rec["preferred"] == "a" and rec["reviewer"] == "browser-test" and rec["pdf"] == "paper.pdf"
    assert page.locator("#reviewer").input_value() == "browser-test"  # remembered for the next page
    assert page.errors == []


def test_whatif_threshold_moves_kept_tokens_and_plan(page, site):
    page.goto(site + "/run/full/whatif")
    before = page.locator("#wi-tokens").inner_text()
    page.fill("#wi-threshold", "0.8")
    page.locator("#wi-threshold").dispatch_event("input")
    expect(page.locator("#wi-tokens")).not_to_have_text(before)
    assert page.locator("#wi-chart svg rect").count() > 10
    page.fill("#wi-budget", "123456789")
    page.locator("#wi-budget").dispatch_event("input")
    page.wait_for_timeout(800)  # the plan is fetched 300 ms after the last change
    assert page.errors == []


def test_script_in_a_document_never_runs(page, site):
    page.goto(site + "/run/full/doc?source_id=web/xss-test")
    text = page.locator("#doctext").inner_text()
    assert "<script>window.__xss = 1" in text and "onerror=" in text
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator('img[src="x"]').count() == 0 and page.locator("main script").count() == 0
    page.locator("#doctext").click()
    for url in ("/run/full/rewrites", "/run/full/drops?stage=04-select", "/run/full/distributions"):
        page.goto(site + url)
        assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == [] and page.errors == []
