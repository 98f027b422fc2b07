"""HTML main-text extraction: quality and speed of our extractors against the libraries and datatrove.

    .venv/bin/python benchmarks/web_extraction.py                 # both sets, one timing pass
    .venv/bin/python benchmarks/web_extraction.py --repeat 3      # median of 3 timing passes
    .venv/bin/python benchmarks/web_extraction.py --build-peer    # create the datatrove venv if missing

Data (web_extraction/ of the external evaluation set, tools/eval_data.py):
- scrapinghub_aeb: 181 article pages with the human `articleBody`. Metric as in the benchmark's own
  evaluate.py: whitespace tokens, bag-of-tokens precision/recall/F1 per page, averaged; "acc" is the
  share of pages with F1 >= 0.9.
- trafilatura_eval: 75 pages with snippets that must (`with`) / must not (`without`) appear in the
  main text. A `with` snippet found is a true positive, missed a false negative; a `without` snippet
  found is a false positive. Counts are summed over pages (trafilatura's own scoring); whitespace is
  collapsed on both sides before matching.

Systems, all fed the same decoded HTML (our charset detection) and timed on the extraction alone,
start-up excluded:
- ours default / router / trafilatura: `curation.stages.ingest.web.sandbox.Extractor` exactly as `ingest` runs
  it: pages go to the extraction worker as bytes (here the UTF-8 of the decoded page, declared utf-8)
  and the worker decodes them, so our figures include a decode that the bare libraries do not pay;
  "in-process" is the same extractor with no worker (extract_timeout_s=0: no hang guard);
- resiliparse / trafilatura (library defaults): the bare library call in-process on a str;
- datatrove Trafilatura (peer): datatrove's extractor step run in its own venv
  (benchmarks/web_extraction_datatrove.py), with its own sandbox and defaults.
Every timing pass gets fresh objects (a str built before the clock starts): a str that was already
handed to resiliparse once carries a cached UTF-8 copy, which makes repeated passes ~20% faster than
a real run, where each page is extracted once.
pages/s is measured on the scrapinghub set. The machine is shared: rerun with --repeat for medians.
Also printed: the whole reader's cost per page (`read_web_file` over the scrapinghub pages written as a
WARC), with the hang guard and in-process, and the router sweep (`--sweep`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.eval_data import eval_data_path  # noqa: E402

DATA = eval_data_path("web_extraction")
PEER_VENV = ROOT / ".bench" / "datatrove-venv"
PEER_SCRIPT = Path(__file__).with_name("web_extraction_datatrove.py")


# -- data -------------------------------------------------------------------------------------------
def load_scrapinghub(root: Path, limit: int | None) -> list[dict]:
    from curation.stages.ingest.web.charset import decode_html

    truth = json.loads((root / "ground-truth.json").read_text())
    pages = []
    for key in sorted(truth)[:limit]:
        html, _, _ = decode_html(gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()))
        pages.append({"id": key, "html": html, "url": truth[key].get("url"), "truth": truth[key]["articleBody"]})
    return pages


def load_trafilatura_eval(root: Path, limit: int | None) -> list[dict]:
    from curation.stages.ingest.web.charset import decode_html

    ann = json.loads((root / "annotations.json").read_text())
    pages = []
    for key in sorted(ann)[:limit]:
        a = ann[key]
        html, _, _ = decode_html(gzip.decompress((root / "html" / a["file"]).read_bytes()))
        url = key if "://" in key else None
        pages.append({"id": key, "html": html, "url": url, "with": a.get("with") or [], "without": a.get("without") or []})
    return pages


# -- metrics ----------------------------------------------------------------------------------------
def token_prf(truth: str, pred: str | None) -> tuple[float, float, float]:
    t, p = Counter(truth.split()), Counter((pred or "").split())
    if not t and not p:
        return 1.0, 1.0, 1.0
    tp = sum((t & p).values())
    prec = tp / sum(p.values()) if p else 0.0
    rec = tp / sum(t.values()) if t else 0.0
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)


def score_scrapinghub(pages: list[dict], texts: dict[str, str | None]) -> dict[str, float]:
    s = [token_prf(p["truth"], texts.get(p["id"])) for p in pages]
    n = len(s)
    return {"P": sum(x[0] for x in s) / n, "R": sum(x[1] for x in s) / n, "F1": sum(x[2] for x in s) / n,
            "acc": sum(x[2] >= 0.9 for x in s) / n}


def _norm(s: str) -> str:
    return " ".join(s.split())


def score_snippets(pages: list[dict], texts: dict[str, str | None]) -> dict[str, float]:
    tp = fn = fp = tn = 0
    for p in pages:
        out = _norm(texts.get(p["id"]) or "")
        for s in p["with"]:
            if _norm(s) in out:
                tp += 1
            else:
                fn += 1
        for s in p["without"]:
            if _norm(s) in out:
                fp += 1
            else:
                tn += 1
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"P": prec, "R": rec, "F1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}


# -- systems ----------------------------------------------------------------------------------------
def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def fresh_html(pages: list[dict]) -> list[str]:
    """New str objects for one timing pass (no UTF-8 copy cached from an earlier pass)."""
    return [str(p["html"].encode("utf-8", "surrogatepass"), "utf-8", "surrogatepass") for p in pages]


def run_local(fn: Callable[[str, str | None], str | None], pages: list[dict]) -> tuple[dict[str, str | None], float, float]:
    texts = {}
    htmls = fresh_html(pages)
    started, cpu = time.perf_counter(), time.process_time()
    for p, html in zip(pages, htmls, strict=True):
        try:
            texts[p["id"]] = fn(html, p["url"])
        except Exception:  # a failing page scores as empty, the bare libraries have no guard
            texts[p["id"]] = None
    return texts, time.perf_counter() - started, time.process_time() - cpu


def ours(method: str, timeout_s: float, threshold: float, budget: float, routed: list[int]):
    """Our extractor as `ingest` runs it: sandboxed worker, pages pipelined a reader window at a time."""
    from curation.stages.ingest.web.documents import WebReader
    from curation.stages.ingest.web.extract import Extraction
    from curation.stages.ingest.web.sandbox import Extractor

    ex = Extractor(method, timeout_s, threshold, router_budget=budget)
    list(ex.map([("<html><body><p>warm up</p></body></html>", None)]))  # start the worker outside the timing

    def run(pages: list[dict]) -> tuple[dict[str, str | None], float, float]:
        texts: dict[str, str | None] = {}
        ex._credit = 0.0  # each pass routes from a fresh budget (else the F1 would depend on earlier passes)
        # As `ingest` hands them over: bytes and the declared charset (the worker detects and decodes).
        data = [(p["html"].encode("utf-8", "surrogatepass"), p["url"], "utf-8") for p in pages]
        pid = ex._proc.pid if ex._proc is not None else None  # None when extracting in-process
        started, cpu, worker = time.perf_counter(), time.process_time(), proc_cpu(pid) if pid else 0.0
        w = WebReader.WINDOW_PAGES
        for i in range(0, len(pages), w):
            window = pages[i:i + w]
            for p, r in zip(window, ex.run_window(data[i:i + w]), strict=True):
                ok = isinstance(r, Extraction)
                texts[p["id"]] = r.text if ok else None
                routed.append(ok and r.extractor == "trafilatura")
        same = ex._proc is not None and ex._proc.pid == pid  # (a restarted worker's CPU is not counted)
        worker_cpu = (proc_cpu(pid) - worker) if same and pid else 0.0
        return texts, time.perf_counter() - started, time.process_time() - cpu + worker_cpu

    return run, ex


def bare_resiliparse(html: str, url: str | None) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse(html), main_content=True)


def bare_trafilatura(html: str, url: str | None) -> str | None:
    import trafilatura

    return trafilatura.extract(html, url=url)


def peer_python(build: bool) -> Path | None:
    py = PEER_VENV / "bin" / "python"
    if py.exists():
        return py
    if not build:
        return None
    print(f"building the datatrove peer venv in {PEER_VENV} (needs network) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "datatrove[processing]", "lxml_html_clean", "orjson"], check=True)
    return py


def run_peer(py: Path, pages: list[dict]) -> tuple[dict[str, str | None], float, float, str]:
    payload = json.dumps([{"id": p["id"], "html": p["html"]} for p in pages])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    res = subprocess.run([str(py), str(PEER_SCRIPT)], input=payload, capture_output=True, text=True, env=env,
                         check=False)
    if res.returncode != 0:
        raise RuntimeError(f"datatrove peer failed: {res.stderr[-2000:]}")
    out = json.loads(res.stdout)
    return out["texts"], out["seconds"], out["cpu_seconds"], out["version"]


def router_sweep(pages: list[dict], budgets: list[float], threshold: float, window: int) -> list[dict]:
    """Does routing pay? Per page: resiliparse output, router signal and trafilatura output, each timed
    (CPU, in-process); then for every budget the router's choices (the same `choose_for_budget` as
    `ingest`, windows of `window` pages in file order) give the routed F1 and CPU cost exactly. The
    per-page oracle (best of both, needs the truth) is the ceiling."""
    from curation.stages.ingest.web.extract import boilerplate_score, resiliparse_text, trafilatura_text
    from curation.stages.ingest.web.sandbox import choose_for_budget

    per = []
    for p, html, html2 in zip(pages, fresh_html(pages), fresh_html(pages), strict=True):
        c0 = time.process_time()
        fast = resiliparse_text(html)
        score = boilerplate_score(fast, len(html))
        c1 = time.process_time()
        acc = trafilatura_text(html2, p["url"])
        c2 = time.process_time()
        per.append((token_prf(p["truth"], fast)[2], token_prf(p["truth"], acc)[2] if acc.strip() else
                    token_prf(p["truth"], fast)[2], score, c1 - c0, c2 - c1))
    n = len(per)
    gains = sorted((x[1] - x[0] for x in per), reverse=True)
    rows = []
    for budget in budgets:
        routed = [False] * n
        credit = 0.0
        for start in range(0, n, window):
            chosen, credit = choose_for_budget([x[2] for x in per[start:start + window]], threshold, budget, credit)
            for i in chosen:
                routed[start + i] = True
        f1 = sum(x[1] if r else x[0] for x, r in zip(per, routed, strict=True)) / n
        cpu = sum(x[3] + (x[4] if r else 0.0) for x, r in zip(per, routed, strict=True))
        # The ceiling for any signal at this budget: the same number of pages, chosen with the truth.
        k = int(budget * n)
        ceiling = (sum(x[0] for x in per) + sum(max(0.0, g) for g in gains[:k])) / n
        rows.append({"budget": budget, "routed": sum(routed) / n, "F1": f1, "pages_per_cpu_s": n / max(cpu, 1e-9),
                     "oracle_F1_same_budget": ceiling})
    rows.append({"budget": "oracle", "routed": sum(x[1] > x[0] for x in per) / n,
                 "F1": sum(max(x[0], x[1]) for x in per) / n, "pages_per_cpu_s": n / sum(x[3] + x[4] for x in per),
                 "oracle_F1_same_budget": sum(max(x[0], x[1]) for x in per) / n})
    return rows


def write_warc(pages: list[dict], path: Path) -> None:
    """The pages as HTTP responses in a per-record-gzip WARC (UTF-8 bytes, no declared charset)."""
    import uuid

    with open(path, "wb") as f:
        for p in pages:
            body = p["html"].encode("utf-8", "surrogatepass")
            block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + body
            url = p["url"] or f"http://bench.example/{p['id']}"
            head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
                    f"WARC-Date: 2024-05-18T01:58:10Z\r\nWARC-Target-URI: {url}\r\n"
                    f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(block)}\r\n\r\n")
            f.write(gzip.compress(head.encode() + block + b"\r\n\r\n", 6))


def ingest_cost(pages: list[dict], repeat: int) -> dict[str, float]:
    """Whole-reader cost per page: `read_web_file` over a WARC of the pages (gzip, WARC and HTTP framing,
    charset, extraction, rows), with the hang guard and in-process; rounds alternate between the two."""
    import tempfile

    from curation.stages.ingest.config import IngestConfig
    from curation.stages.ingest.web.documents import read_web_file
    from curation.stages.ingest.web.sandbox import Extractor

    out: dict[str, list[float]] = {"guarded": [], "in-process": []}
    with tempfile.TemporaryDirectory() as tmp:
        warc = Path(tmp) / "pages.warc.gz"
        write_warc(pages, warc)
        cfgs = {"guarded": IngestConfig(), "in-process": IngestConfig(extract_timeout_s=0)}
        exs = {k: Extractor(c.extractor, c.extract_timeout_s, c.router_threshold) for k, c in cfgs.items()}
        try:
            for ex in exs.values():
                list(ex.map([("<html><body><p>warm up</p></body></html>", None)]))
            for _ in range(repeat):
                for k, cfg in cfgs.items():
                    ex = exs[k]
                    pid = ex._proc.pid if ex._proc is not None else None
                    c0, w0 = time.process_time(), proc_cpu(pid) if pid else 0.0
                    rows = sum(b.num_rows for b in read_web_file(str(warc), cfg, extractor=ex))
                    same = ex._proc is not None and ex._proc.pid == pid
                    cpu = time.process_time() - c0 + ((proc_cpu(pid) - w0) if same and pid else 0.0)
                    out[k].append(rows / max(cpu, 1e-9))
        finally:
            for ex in exs.values():
                ex.close()
    return {k: statistics.median(v) for k, v in out.items()}


# -- main -------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--pages", type=int, default=None, help="use only the first N pages of each set")
    ap.add_argument("--repeat", type=int, default=1, help="timing passes per system (median reported)")
    ap.add_argument("--timeout", type=float, default=10.0, help="per-page time limit of our extractors (s)")
    ap.add_argument("--router-threshold", type=float, default=None, help="default: ingest.router_threshold")
    ap.add_argument("--no-peer", action="store_true", help="skip datatrove")
    ap.add_argument("--build-peer", action="store_true", help="create the datatrove venv if it is missing")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    ap.add_argument("--router-budget", type=float, default=None, help="default: ingest.router_budget")
    ap.add_argument("--sweep", default="0,0.02,0.05,0.1,0.2,0.3,0.5,1",
                    help="router budgets for the does-routing-pay table ('' skips it)")
    ap.add_argument("--no-ingest", action="store_true", help="skip the whole-reader (WARC to rows) cost table")
    a = ap.parse_args(argv)

    from curation.stages.ingest.config import IngestConfig

    threshold = a.router_threshold if a.router_threshold is not None else IngestConfig().router_threshold
    budget = a.router_budget if a.router_budget is not None else IngestConfig().router_budget
    sh = load_scrapinghub(a.data / "scrapinghub_aeb", a.pages)
    te = load_trafilatura_eval(a.data / "trafilatura_eval", a.pages)
    print(f"pages: scrapinghub {len(sh)}, trafilatura_eval {len(te)}; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs", file=sys.stderr)

    results: list[dict] = []

    def record(name: str, run: Callable[[list[dict]], tuple[dict, float, float]], routed: list[int] | None = None) -> None:
        times, cpus, sh_texts = [], [], {}
        for _ in range(a.repeat):
            if routed is not None:
                routed.clear()
            sh_texts, secs, cpu = run(sh)
            times.append(secs)
            cpus.append(cpu)
        share = (sum(routed) / len(routed)) if routed else None
        te_texts, _, _ = run(te)
        row = {"system": name, "scrapinghub": score_scrapinghub(sh, sh_texts), "trafilatura_eval": score_snippets(te, te_texts),
               "pages_per_s": len(sh) / statistics.median(times), "pages_per_cpu_s": len(sh) / max(1e-9, statistics.median(cpus)),
               "seconds": times, "cpu_seconds": cpus, "routed_share": share}
        results.append(row)
        print(f"  {name}: F1 {row['scrapinghub']['F1']:.3f}, {row['pages_per_s']:.1f} pages/s, "
              f"{row['pages_per_cpu_s']:.1f} pages/CPU-s", file=sys.stderr)

    variants = [("resiliparse", a.timeout, "ours: default (resiliparse)"),
                ("resiliparse", 0.0, "ours: default, in-process (extract_timeout_s=0: no hang guard)"),
                ("router", a.timeout, f"ours: router (budget {budget:g}, floor {threshold:g})"),
                ("trafilatura", a.timeout, "ours: trafilatura (accurate)")]
    for method, timeout, label in variants:
        routed: list[int] = []
        run, ex = ours(method, timeout, threshold, budget, routed)
        with ex:
            record(label, run, routed if method == "router" else None)
    record("resiliparse 2.x (library defaults)", lambda pages: run_local(bare_resiliparse, pages))
    record("trafilatura 2.x (library defaults)", lambda pages: run_local(bare_trafilatura, pages))
    peer = None if a.no_peer else peer_python(a.build_peer)
    if peer is not None:
        version = ""

        def peer_run(pages: list[dict]) -> tuple[dict, float, float]:
            nonlocal version
            texts, secs, cpu, version = run_peer(peer, pages)
            return texts, secs, cpu

        record("datatrove Trafilatura (peer)", peer_run)
        results[-1]["system"] = f"datatrove Trafilatura (peer: {version})"
    elif not a.no_peer:
        print(f"datatrove venv not found at {PEER_VENV}: rerun with --build-peer", file=sys.stderr)

    peer_row = next((r for r in results if r["system"].startswith("datatrove")), None)
    head = ("| system | SH P | SH R | SH F1 | SH acc | TE P | TE R | TE F1 | pages/s wall | pages/CPU-s | "
            "x datatrove (wall / CPU) | to trafilatura |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(head)
    for r in results:
        s, t = r["scrapinghub"], r["trafilatura_eval"]
        speed = (f"{r['pages_per_s'] / peer_row['pages_per_s']:.1f}x / {r['pages_per_cpu_s'] / peer_row['pages_per_cpu_s']:.1f}x"
                 if peer_row else "n/a")
        share = f"{r['routed_share']:.0%}" if r["routed_share"] is not None else ""
        print(f"| {r['system']} | {s['P']:.3f} | {s['R']:.3f} | {s['F1']:.3f} | {s['acc']:.2f} | {t['P']:.3f} | "
              f"{t['R']:.3f} | {t['F1']:.3f} | {r['pages_per_s']:.1f} | {r['pages_per_cpu_s']:.1f} | {speed} | {share} |")
    print(f"\nSH = scrapinghub article-extraction-benchmark ({len(sh)} pages, token P/R/F1 vs articleBody, mean per page); "
          f"TE = trafilatura eval subset ({len(te)} pages, with/without snippet hits). pages/s on SH, one process "
          f"(CPU-s: user+system time of the extracting processes, robust to a shared CPU), median of {a.repeat} pass(es); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (shared machine).")
    ingest = {}
    if not a.no_ingest:
        ingest = ingest_cost(sh, max(3, a.repeat))
        print(f"\nWhole reader on SH as a WARC (`read_web_file`: gzip, WARC/HTTP framing, charset, extraction, rows; "
              f"median of {max(3, a.repeat)} alternating rounds): default with the hang guard "
              f"{ingest['guarded']:.1f} pages/CPU-s, in-process {ingest['in-process']:.1f} pages/CPU-s "
              f"(ratio {ingest['guarded'] / ingest['in-process']:.3f}).")
    sweep = []
    if a.sweep:
        from curation.stages.ingest.web.documents import WebReader

        sweep = router_sweep(sh, [float(x) for x in a.sweep.split(",")], threshold, WebReader.WINDOW_PAGES)
        print(f"\nRouter sweep on SH (resiliparse everywhere; trafilatura for the worst-scoring pages above the floor "
              f"{threshold:g}, at most budget x pages per window of {WebReader.WINDOW_PAGES}; in-process CPU time, no sandbox):"
              "\n\n| budget | routed to trafilatura | SH F1 | SH F1 of a perfect signal at this budget | pages/CPU-s |"
              "\n|---|---|---|---|---|")
        for r in sweep:
            t = r["budget"]
            label = "oracle (best of both, needs the truth)" if t == "oracle" else f"{t:g}"
            print(f"| {label} | {r['routed']:.0%} | {r['F1']:.3f} | {r['oracle_F1_same_budget']:.3f} | "
                  f"{r['pages_per_cpu_s']:.1f} |")
    if a.json:
        a.json.write_text(json.dumps({"systems": results, "router_sweep": sweep, "ingest": ingest}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
