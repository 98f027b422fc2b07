"""The data-quality UI over run folders, through FastAPI's test client (no browser; see test_ui_browser.py)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

fastapi = pytest.importorskip("fastapi")
pytest.importorskip("duckdb")
from fastapi.testclient import TestClient  # noqa: E402

from curation.ui import diff, signals  # noqa: E402
from curation.ui import pdf as P  # noqa: E402
from curation.ui import whatif as W  # noqa: E402
from curation.ui.app import create_app  # noqa: E402
from curation.ui.runs import Run, discover  # noqa: E402
from tools import demo_run as demo  # noqa: E402

LOCAL = "http://127.0.0.1"  # the Host check is always on: TestClient's default "testserver" gets 421
PAGES = ["", "/drops", "/distributions", "/duplicates", "/pdf", "/pdf/ab", "/whatif", "/rewrites"]


def sample_texts(sample_dir: Path, limit: int = 120) -> list[str]:
    lines = (sample_dir / "jsonl" / "documents.jsonl").read_text(encoding="utf-8").splitlines()[:limit]
    return [json.loads(ln)["text"] for ln in lines if ln.strip()]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, sample_dir) -> Path:
    out = tmp_path_factory.mktemp("ui") / "demo"
    return demo.build(out, sample_texts(sample_dir), pdf=sample_dir / "pdf" / "paper.pdf")


@pytest.fixture(scope="module")
def bare_run(tmp_path_factory, sample_dir) -> Path:
    """A run with only a read stage (what the pipeline produces before the other stages exist)."""
    out = tmp_path_factory.mktemp("ui") / "bare"
    out.mkdir()
    texts = sample_texts(sample_dir, 20)
    n = len(texts)
    table = pa.table({"doc_id": [f"{i:032x}" for i in range(n)], "source_id": [f"s{i}" for i in range(n)],
                      "source": ["x.jsonl"] * n, "source_type": ["jsonl"] * n, "text": texts,
                      "token_count": pa.array([len(t.split()) for t in texts], pa.int64())})
    w = demo._Writer(out, {"read": {}})
    w.stage("read", table, *demo._kept(n), last=True)
    w.save()
    return out


@pytest.fixture(scope="module")
def client(demo_run, bare_run) -> TestClient:
    return TestClient(create_app([str(demo_run), str(bare_run)]), base_url=LOCAL)


def test_discover_names_runs_and_rejects_missing(tmp_path, demo_run):
    runs = discover([str(demo_run)])
    assert list(runs) == ["demo"]
    assert [s.label for s in runs["demo"].stages][:3] == ["00-read", "01-annotate", "02-dedup"]
    with pytest.raises(FileNotFoundError):
        discover([str(tmp_path / "nope")])
    parent = discover([str(demo_run.parent)])  # a folder of run folders
    assert "demo" in parent


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_full_run(client, page):
    r = client.get(f"/run/demo{page}")
    assert r.status_code == 200, r.text[:500]
    assert "No data for" not in r.text or page in ("/pdf/ab",)
    assert r.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("page", PAGES[1:])
def test_pages_say_when_a_stage_has_no_data(client, page):
    r = client.get(f"/run/bare{page}")
    assert r.status_code == 200, r.text[:500]
    if page != "/distributions":  # token_count exists even in a bare run
        assert "No data for" in r.text


def test_runs_page_lists_runs_with_funnel(client):
    r = client.get("/")
    assert 'href="/run/demo"' in r.text and 'href="/run/bare"' in r.text
    r = client.get("/run/demo")
    assert r.text.count("<svg") == 2  # documents and tokens funnel
    assert "gopher_repetition:dup_line_frac" in r.text and "quality_classifier" in r.text


def test_untrusted_text_is_escaped_everywhere(client):
    r = client.get("/run/demo/doc", params={"source_id": "web/xss-test"})
    assert r.status_code == 200
    assert "&lt;script&gt;window.__xss = 1" in r.text
    assert "<script>window" not in r.text and "<img src=x" not in r.text
    r = client.get("/run/demo/drops", params={"stage": "04-select", "q": "onerror"})
    assert "<img src=x" not in r.text


def test_document_view_has_text_signals_and_full_history(client, demo_run):
    led = pq.read_table(demo_run / "ledger" / "02-dedup").to_pylist()
    dup = next(x for x in led if x["reason"] == "near_duplicate")
    r = client.get("/run/demo/doc", params={"id": dup["doc_id"]})
    assert r.status_code == 200
    history = re.search(r'<table class="grid" id="history">(.*?)</table>', r.text, re.S).group(1)
    assert [m for m in re.findall(r"<td>(\d\d-\w+)</td>", history)] == ["00-read", "01-annotate", "02-dedup"]
    assert "near_duplicate" in history and dup["related_id"] in history
    assert "gopher_repetition__dup_line_frac" in r.text and "quality_score" in r.text
    assert "shown as rejected by 02-dedup" in r.text
    assert client.get("/run/demo/doc", params={"id": "0" * 32}).status_code == 404


def test_drops_filter_and_paging(client):
    r = client.get("/run/demo/drops", params={"stage": "04-select", "reason": "below_quality_threshold"})
    rows = re.findall(r'class="doclink"', r.text)
    assert len(rows) == 25 and 'rel="next"' in r.text
    r2 = client.get("/run/demo/drops", params={"stage": "04-select", "reason": "below_quality_threshold", "page": 2})
    assert r2.status_code == 200 and 'rel="prev"' in r2.text
    assert set(re.findall(r'doc\?id=(\w+)', r.text)).isdisjoint(re.findall(r'doc\?id=(\w+)', r2.text))
    r3 = client.get("/run/demo/drops", params={"stage": "04-select", "reason": "no_such_reason"})
    assert "No rows match" in r3.text


def test_distributions_draw_configured_thresholds(client, demo_run):
    r = client.get("/run/demo/distributions", params={"stage": "01-annotate"})
    fig = re.search(r'id="hist-gopher_repetition__dup_line_frac">(.*?)</figure>', r.text, re.S).group(1)
    assert "config annotate.gopher_repetition.dup_line_frac = 0.3" in fig
    assert 'class="threshold"' in fig
    marks = signals.thresholds(Run.load("d", demo_run).manifest, "quality_score")
    assert ("select recorded threshold", demo.QUALITY_THRESHOLD) in marks


def test_duplicate_cluster_and_containment_views(client):
    r = client.get("/run/demo/duplicates")
    clusters = re.findall(r'href="(/run/demo/duplicates/cluster[^"]+)"', r.text)
    pairs = re.findall(r'href="(/run/demo/duplicates/pair[^"]+)"', r.text)
    assert clusters and pairs
    near = None
    for link in clusters:
        page = client.get(link.replace("&amp;", "&"))
        assert page.status_code == 200
        if 'class="diff"' in page.text:
            near = page
    assert near is not None, "no cluster shows a highlighted difference"
    pair = client.get(pairs[0].replace("&amp;", "&"))
    assert pair.status_code == 200 and "<mark>" in pair.text


def test_word_diff_and_containment_marks():
    left, right, ratio = diff.word_diff("the cat sat on the mat", "the dog sat on the mat")
    assert ("cat", "changed") in left and ("dog", "changed") in right and 0.5 < ratio < 1
    segs, covered = diff.containment("intro words here then the quick brown fox jumps over and more", "the quick brown fox jumps")
    assert ("the quick brown fox jumps", "mark") in segs and covered == 1.0


def test_pages_info_accepts_router_shapes():
    rows = P.pages_info(json.dumps([{"page": 1, "parser": "pdfium", "predicted": {"pdfium": 0.8, "tesseract": 0.6},
                                     "seconds": {"pdfium": 0.01}, "offset": 0, "chars": 10, "gate": None}]))
    assert rows[0]["page"] == 1 and rows[0]["scores"] == {"pdfium": 0.8, "tesseract": 0.6}
    assert "seconds" in rows[0]["other"] and "offset" not in rows[0]["other"]
    zero = P.pages_info(json.dumps({"pages": [{"page": 0, "parser": "a"}, {"page": 1, "parser": "b"}]}))
    assert [p["page"] for p in zero] == [1, 2]
    assert P.pages_info("not json") == [] and P.pages_info(None) == []


def _task(client, url="/run/demo/pdf/ab"):
    r = client.get(url)
    assert r.status_code == 200, r.text[:300]
    return r, re.search(r'name="task" value="([^"]+)"', r.text).group(1)


def test_ab_labels_are_blinded_and_written_in_the_router_format(client, demo_run):
    r, tid = _task(client)
    area = r.text[r.text.index('<div class="ab">'):]
    for name in P.parser_names():
        assert name not in area.lower(), f"parser name {name} leaks into the blinded view"
    img = re.search(r'src="(/run/demo/pdf/ab/page.png\?task=[^"]+)"', r.text).group(1)
    png = client.get(img)
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    before = (demo_run / "labels" / P.LABELS_FILE).read_text().count("\n") if (demo_run / "labels" / P.LABELS_FILE).exists() else 0
    r = client.post("/run/demo/pdf/ab", data={"task": tid, "choice": "right", "reviewer": "ana"}, follow_redirects=False)
    assert r.status_code == 303
    lines = (demo_run / "labels" / P.LABELS_FILE).read_text().splitlines()
    assert len(lines) == before + 1
    rec = json.loads(lines[-1])
    assert set(rec) == {"pdf", "page", "parser_a", "parser_b", "preferred", "reviewer", "time"}
    assert rec["pdf"] == "paper.pdf" and isinstance(rec["page"], int) and rec["page"] >= 1
    assert rec["preferred"] == "b" and rec["reviewer"] == "ana" and rec["parser_a"] != rec["parser_b"]
    datetime.fromisoformat(rec["time"])
    assert client.post("/run/demo/pdf/ab", data={"task": tid, "choice": "left"}).status_code == 409  # one answer per task
    try:  # the router's preference training reads exactly this file
        from curation.stages.ingest.pdf.preferences import read_preferences
    except ImportError:
        pass
    else:
        prefs, problems = read_preferences(demo_run / "labels" / P.LABELS_FILE)
        assert not problems and prefs[-1].pdf == "paper.pdf" and prefs[-1].preferred == "b"
    _, tid2 = _task(client)
    assert client.post("/run/demo/pdf/ab", data={"task": tid2, "choice": "both"}).status_code == 400
    assert client.post("/run/demo/pdf/ab", data={"task": "forged", "choice": "left"}).status_code == 409


def test_label_writes_need_the_token_when_one_is_set(demo_run):
    c = TestClient(create_app([str(demo_run)], token="s3cret-s3cret-s3cret"), base_url=LOCAL)
    _, tid = _task(c)
    assert c.post("/run/demo/pdf/ab", data={"task": tid, "choice": "left"}).status_code == 403
    assert c.post("/run/demo/pdf/ab", data={"task": tid, "choice": "left", "token": "wrong"}).status_code == 403
    ok = c.post("/run/demo/pdf/ab", data={"task": tid, "choice": "neither", "token": "s3cret-s3cret-s3cret"},
                follow_redirects=False)
    assert ok.status_code == 303


def test_loopback_server_refuses_foreign_host_headers(demo_run):
    c = TestClient(create_app([str(demo_run)], host="127.0.0.1"), base_url="http://127.0.0.1:8765")
    assert c.get("/").status_code == 200
    assert c.get("/", headers={"host": "evil.example:8765"}).status_code == 421


@pytest.mark.parametrize("url", [
    "/run/..%2F..%2Fetc", "/run/../../etc/passwd", "/static/../app.py", "/static/%2e%2e/app.py",
    "/static/..%2fapp.py", "/run/demo/..%2F..%2Fmanifest.json", "/run/%2e%2e/drops",
])
def test_request_paths_cannot_escape(client, url):
    r = client.get(url)
    assert r.status_code in (404, 400, 405), url
    assert "def create_app" not in r.text and "root:" not in r.text


def test_stage_and_ids_from_requests_are_not_paths(client):
    for params in ({"stage": "../../etc"}, {"stage": "/etc/passwd"}):
        r = client.get("/run/demo/drops", params=params)
        assert r.status_code == 200 and "root:" not in r.text
    assert client.get("/run/demo/doc", params={"id": "../../../etc/passwd"}).status_code == 404


def test_manifest_folders_outside_the_run_are_ignored(tmp_path, demo_run):
    run = Run.load("d", demo_run)
    run.manifest["stages"][0]["documents"] = "../../../../etc"
    run.manifest["stages"][1]["rejected"] = "/etc"
    assert run.stages[0].kept_dir is None and run.stages[1].rejected_dir is None


def test_pdf_files_outside_the_served_folders_are_refused(tmp_path, demo_run, sample_dir):
    run = Run.load("d", demo_run)
    row = {"source": str(sample_dir / "pdf" / "paper.pdf"), "metadata": None}
    assert P.pdf_bytes(run, row, [sample_dir / "pdf"])[:4] == b"%PDF"
    with pytest.raises(FileNotFoundError):
        P.pdf_bytes(run, row, [tmp_path])
    with pytest.raises(FileNotFoundError):
        P.pdf_bytes(run, {"source": "../../../../../../etc/passwd"}, [demo_run])


def test_whatif_kept_tokens_match_the_parquet_within_one_bin(client, demo_run):
    run = Run.load("d", demo_run)
    st, files = W.population(run)
    assert st is not None and st.name == "select"
    c = W.curve(run, files, "quality_score")
    t = 0.5
    got = W.kept_at(c, t)
    table = pa.concat_tables([pq.read_table(f, columns=["quality_score", "token_count"]) for f in files])
    rows = table.to_pylist()
    exact = sum(r["token_count"] for r in rows if r["quality_score"] >= t)
    width = (c["hi"] - c["lo"]) / len(c["tokens"])
    slack = sum(r["token_count"] for r in rows if abs(r["quality_score"] - t) <= width)
    assert abs(got["tokens"] - exact) <= slack
    pools = W.pool_table(c, 10 * sum(c["tokens"]))
    assert [round(p["pool_fraction"], 1) for p in pools] == [round(0.1 * k, 1) for k in range(1, 11)]
    assert pools[-1]["kept_tokens"] == sum(c["tokens"])
    j = client.get("/run/demo/whatif/plan.json", params={"threshold": t, "budget": 500000}).json()
    assert j["kept"]["tokens"] == pytest.approx(got["tokens"])
    try:
        import curation.stages.select.plan  # noqa: F401
    except ImportError:
        assert j["available"] is False
    else:
        assert j["available"] is True and {"pool_fraction", "threshold", "repetitions"} <= set(j["plan"])
    moved = client.get("/run/demo/whatif/plan.json", params={"threshold": t, "budget": 5_000_000}).json()
    if j["available"]:
        assert moved["plan"]["budget_tokens"] == 5_000_000


def test_rewrites_show_original_beside_rewrite(client):
    r = client.get("/run/demo/rewrites")
    assert r.text.count('class="rewrite"') >= 5
    assert "Original not found" not in r.text


def test_cli_refuses_missing_folders(tmp_path, capsys):
    from curation.commands import ui as cmd

    assert cmd.main([str(tmp_path / "missing")]) == 2
    assert "not a run folder" in capsys.readouterr().err
    a = cmd.parse_args(["x"])
    assert a.host == "127.0.0.1"
