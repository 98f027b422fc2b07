"""Annotation benchmark: throughput per core, agreement with datatrove, language-id accuracy, classifier check.

    .venv/bin/python benchmarks/annotate.py                 # 400 real documents (a few minutes)
    .venv/bin/python benchmarks/annotate.py --docs 5000     # more (documents are reused round-robin)
    .venv/bin/python benchmarks/annotate.py --docs 0        # every document of the pool once

Documents (long, real): web pages of the external evaluation set's web_extraction/ (tools/eval_data.py) (main text extracted with
resiliparse, as a pipeline would), Common Crawl / ClueWeb pages from sample_data/warc (all visible text),
and sample_data/jsonl (langid texts, PDF pages). Both sides see the same texts.

Throughput is documents per CPU-second of one process (`time.process_time`), i.e. per core; tokenizers
and Arrow are pinned to one thread. The machine is shared, so wall times are noisy; CPU time less so.
Our components run after a warm-up batch (imports, regex compilation; the peer warms up on one
document too) and `--repeat` times (default 3, median counts; our runs are short, so single runs
are noisy). The token-count piece cache is emptied before every timed token_count and transform run,
so they are cold; `token_count_warm_cache` shows the steady state of a long run. The load average
is printed with the table.

The peer is datatrove 0.10.1 in its own venv (default .bench/datatrove-venv). If it is missing:
    python3 -m venv .bench/datatrove-venv
    .bench/datatrove-venv/bin/pip install "datatrove[processing]==0.10.1" fasttext-numpy2-wheel spacy
(`--build-peer` runs exactly that; it needs PyPI.) LanguageFilter is given the same lid.176.ftz.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.eval_data import eval_data_path  # noqa: E402

EXT = eval_data_path()
PEER = ROOT / ".bench" / "datatrove-venv"
FILTERS = ["language", "gopher_repetition", "gopher_quality", "c4", "fineweb"]


# -- documents -----------------------------------------------------------------------------------------

def web_pages() -> list[dict]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    out = []
    for folder in ("scrapinghub_aeb", "trafilatura_eval"):
        for p in sorted((EXT / "web_extraction" / folder / "html").glob("*.html.gz")):
            raw = gzip.decompress(p.read_bytes())
            text = extract_plain_text(bytes_to_str(raw, detect_encoding(raw)), main_content=True)
            if text.strip():
                out.append({"id": f"web/{folder}/{p.name}", "text": text})
    return out


def warc_pages() -> list[dict]:
    from tools.quality_data import warc_page_texts

    paths = [p for p in sorted((ROOT / "sample_data" / "warc").glob("*.warc*")) if not p.name.endswith((".wat.gz", ".wet.gz"))]
    return [{"id": f"warc/{i}", "text": t} for i, t in enumerate(warc_page_texts(paths))]


def jsonl_docs() -> list[dict]:
    return [json.loads(line) for line in (ROOT / "sample_data" / "jsonl" / "documents.jsonl").open(encoding="utf-8")]


def corpus(n: int, seed: int = 0) -> list[dict]:
    pool = [d for d in web_pages() + warc_pages() + jsonl_docs() if d["text"].strip()]
    random.Random(seed).shuffle(pool)
    if n <= 0:
        return pool
    return [{"id": f"{pool[i % len(pool)]['id']}#{i // len(pool)}", "text": pool[i % len(pool)]["text"]} for i in range(n)]


# -- our side ------------------------------------------------------------------------------------------

def timed(fn, *args):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn(*args)
    return out, time.process_time() - c0, time.perf_counter() - w0


def measured(fn, repeat: int, before=None):
    """(result, median CPU s, median wall s) over `repeat` runs; `before` runs untimed before each one
    (to empty a cache, so that every run starts as cold as the first)."""
    cpu, wall, out = [], [], None
    for _ in range(max(repeat, 1)):
        if before is not None:
            before()
        out, c, w = timed(fn)
        cpu.append(c)
        wall.append(w)
    return out, statistics.median(cpu), statistics.median(wall)


def ours(docs: list[dict], batch: int, repeat: int = 3) -> dict:
    import numpy as np
    import pyarrow as pa

    from curation.stages.annotate.config import AnnotateConfig, default_quality_model
    from curation.stages.annotate.langid import LanguageIdentifier
    from curation.stages.annotate.rules import rulesets
    from curation.stages.annotate.rules.base import TextBatch
    from curation.stages.annotate.rules.c4 import C4Config
    from curation.stages.annotate.stage import AnnotateTransform
    from curation.text.classifier import FastTextScorer
    from curation.text.tokenizer import load_tokenizer, piece_counter, token_counts

    cfg = AnnotateConfig()
    cfg.c4 = C4Config(require_terminal_punct=True)  # datatrove's C4QualityFilter default, for the comparison
    texts = [d["text"] for d in docs]
    chunks = [texts[i:i + batch] for i in range(0, len(texts), batch)]
    lid = LanguageIdentifier()
    scorer = FastTextScorer(default_quality_model())
    lid.predict(["warm up"], ["en"])
    scorer.predict(["warm up"])
    load_tokenizer()
    res: dict = {"cpu_s": {}, "wall_s": {}, "keep": {}, "reason": {}, "repeat": repeat}

    # One-time costs (imports, regex compilation, the tokenizer's character table) outside the timing,
    # as the peer's warm-up document does for spaCy.
    warm = pa.array(texts[:20], pa.string())
    for name, cls in rulesets().items():
        cls(getattr(cfg, name)).compute(TextBatch(warm))
    token_counts(warm)

    def cold_tokens() -> None:
        counter = piece_counter()
        if counter is not None:
            counter.cache.clear()

    def run_lid():
        keep = []
        for c in chunks:
            _, _, ks = lid.predict(c, ["en"])
            keep.extend((ks >= cfg.language.min_score).tolist())
        return keep

    keep, c, w = measured(run_lid, repeat)
    res["keep"]["language"], res["reason"]["language"] = keep, [None if k else "language" for k in keep]
    res["cpu_s"]["language"], res["wall_s"]["language"] = c, w
    for name, cls in rulesets().items():
        rs = cls(getattr(cfg, name))

        def run_rules(rs=rs):
            keep, why = [], []
            for ch in chunks:
                tb = TextBatch(pa.array(ch, pa.string()))
                fails = rs.first_failure(rs.compute(tb), tb.n)
                keep.extend(f is None for f in fails)
                why.extend(None if f is None else f.rule for f in fails)
            return keep, why

        (keep, why), c, w = measured(run_rules, repeat)
        res["keep"][name], res["reason"][name] = keep, why
        res["cpu_s"][name], res["wall_s"][name] = c, w

    def run_all_rules():
        for ch in chunks:
            tb = TextBatch(pa.array(ch, pa.string()))
            for name, cls in rulesets().items():
                cls(getattr(cfg, name)).compute(tb)

    _, res["cpu_s"]["all_rulesets_shared"], res["wall_s"]["all_rulesets_shared"] = measured(run_all_rules, repeat)
    _, res["cpu_s"]["quality_classifier"], res["wall_s"]["quality_classifier"] = measured(
        lambda: [scorer.predict(ch) for ch in chunks], repeat)
    _, res["cpu_s"]["token_count"], res["wall_s"]["token_count"] = measured(
        lambda: [token_counts(pa.array(ch, pa.string())) for ch in chunks], repeat, cold_tokens)
    _, res["cpu_s"]["token_count_warm_cache"], res["wall_s"]["token_count_warm_cache"] = measured(
        lambda: [token_counts(pa.array(ch, pa.string())) for ch in chunks], repeat)
    transform = AnnotateTransform(cfg)
    n = len(texts)

    def run_transform():
        for ch in chunks:
            m = len(ch)
            b = pa.RecordBatch.from_pydict({"text": ch, "decision": ["kept"] * m, "reason": pa.nulls(m, pa.string()),
                                            "related_id": pa.nulls(m, pa.string()), "detail": pa.nulls(m, pa.string()),
                                            "token_count": pa.nulls(m, pa.int64())})
            transform(b)

    _, res["cpu_s"]["annotate_transform"], res["wall_s"]["annotate_transform"] = measured(run_transform, repeat, cold_tokens)
    res["n"] = n
    res["mean_chars"] = float(np.mean([len(t) for t in texts]))
    return res


# -- peer ----------------------------------------------------------------------------------------------

def peer(docs_path: Path, out_path: Path, python: Path) -> dict | None:
    from curation.stages.annotate.langid import default_model_path

    if not (python.parent.parent / ".ready").exists() and not python.exists():
        print(f"no datatrove venv at {python.parent.parent} (see --build-peer); peer columns left empty", file=sys.stderr)
        return None
    cmd = [str(python), str(ROOT / "benchmarks" / "annotate_datatrove.py"), str(docs_path), str(out_path),
           "--lid-model", str(default_model_path())]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, env=env)
    if r.returncode != 0:
        print(f"datatrove side failed (exit {r.returncode})", file=sys.stderr)
        return None
    return json.loads(out_path.read_text())


def build_peer() -> None:
    subprocess.run(["python3", "-m", "venv", str(PEER)], check=True)
    subprocess.run([str(PEER / "bin" / "pip"), "install", "datatrove[processing]==0.10.1", "fasttext-numpy2-wheel", "spacy"],
                   check=True)
    (PEER / ".ready").touch()


# -- accuracy checks -----------------------------------------------------------------------------------

def langid_accuracy() -> dict:
    from curation.stages.annotate.langid import LanguageIdentifier
    from curation.text.classifier import load_model

    path = EXT / "langid" / "snippets.jsonl"
    if not path.exists():
        return {}
    snippets = [json.loads(line) for line in path.open(encoding="utf-8")]
    lid = LanguageIdentifier()
    langs, _, _ = lid.predict([s["text"] for s in snippets])
    labels = {lb[len("__label__"):] for lb in load_model(lid.model_path).get_labels()}
    covered = [i for i, s in enumerate(snippets) if s["lang"].rstrip("_") in labels]
    hit = [langs[i] == snippets[i]["lang"].rstrip("_") for i in covered]
    files = json.loads((EXT / "langid" / "files.json").read_text())
    full_texts, full_labels = [], []
    for f in files:
        text = (EXT / "langid" / f["file"]).read_text(encoding="utf-8", errors="replace")
        full_texts.append("\n".join(ln for ln in text.splitlines() if not ln.startswith("#")))
        full_labels.append(f["lang"].rstrip("_"))
    flangs, _, _ = lid.predict(full_texts)
    fcov = [i for i, lab in enumerate(full_labels) if lab in labels]
    en = [i for i, s in enumerate(snippets) if s["lang"] == "en"]
    return {
        "snippets": len(snippets), "snippets_in_lid176": len(covered),
        "snippet_accuracy_in_lid176": round(sum(hit) / max(len(hit), 1), 4),
        "snippet_accuracy_all": round(sum(hit) / len(snippets), 4),
        "full_texts_in_lid176": len(fcov),
        "full_text_accuracy_in_lid176": round(sum(flangs[i] == full_labels[i] for i in fcov) / max(len(fcov), 1), 4),
        "english_snippets_detected_en": f"{sum(langs[i] == 'en' for i in en)}/{len(en)}",
    }


def classifier_check() -> dict:
    """AEB pages: the human-annotated article text (positive) vs. the page's other visible lines (negative)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    from curation.commands.quality import evaluate
    from curation.stages.annotate.config import default_quality_model

    folder = EXT / "web_extraction" / "scrapinghub_aeb"
    if not folder.exists():
        return {}
    truth = json.loads((folder / "ground-truth.json").read_text())
    pos, neg = [], []
    for key, item in sorted(truth.items()):
        p = folder / "html" / f"{key}.html.gz"
        if not p.exists():
            continue
        raw = gzip.decompress(p.read_bytes())
        page = extract_plain_text(bytes_to_str(raw, detect_encoding(raw)), main_content=False)
        body = item.get("articleBody") or ""
        body_lines = {ln.strip() for ln in body.splitlines() if ln.strip()}
        rest = "\n".join(ln for ln in page.splitlines() if ln.strip() and ln.strip() not in body_lines and
                         not any(ln.strip() in b for b in body_lines))
        if len(body.split()) >= 50:
            pos.append(body)
        if len(rest.split()) >= 50:
            neg.append(rest)
    return evaluate(default_quality_model(), pos, neg)


# -- report --------------------------------------------------------------------------------------------

def agreement(mine: dict, theirs: dict, name: str) -> dict:
    a, b = mine["keep"][name], theirs[name]["keep"]
    same = sum(x == y for x, y in zip(a, b, strict=True))
    dis = {}
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y:
            key = f"ours {'keep' if x else 'drop:' + str(mine['reason'][name][i])} / datatrove " \
                  f"{'keep' if y else 'drop:' + str(theirs[name]['reason'][i])}"
            dis[key] = dis.get(key, 0) + 1
    return {"agree": same / len(a), "ours_drop": a.count(False), "peer_drop": b.count(False),
            "disagreements": dict(sorted(dis.items(), key=lambda kv: -kv[1])[:6])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=400, help="documents (0: the whole pool once)")
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each of our components; the median CPU time counts")
    ap.add_argument("--peer-python", default=str(PEER / "bin" / "python"))
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--build-peer", action="store_true", help="create the datatrove venv if missing (needs PyPI)")
    ap.add_argument("--json", help="also write all figures to this file")
    a = ap.parse_args(argv)
    if a.build_peer and not (PEER / ".ready").exists():
        build_peer()
    docs = corpus(a.docs)
    print(f"{len(docs)} documents, mean {sum(len(d['text']) for d in docs) / len(docs):.0f} characters")
    load = {"start": os.getloadavg()}
    mine = ours(docs, a.batch, a.repeat)
    theirs = None
    if not a.no_peer:
        with tempfile.TemporaryDirectory(prefix="curation-annotate-bench-") as tmp:
            dp = Path(tmp) / "docs.jsonl"
            with dp.open("w", encoding="utf-8") as fh:
                for d in docs:
                    fh.write(json.dumps(d, ensure_ascii=False) + "\n")
            theirs = peer(dp, Path(tmp) / "peer.json", Path(a.peer_python))
    load["end"] = os.getloadavg()
    n = len(docs)
    print(f"\nload average (1/5/15 min) at start {' '.join(f'{x:.2f}' for x in load['start'])}, "
          f"at end {' '.join(f'{x:.2f}' for x in load['end'])} on {os.cpu_count()} CPUs; ours: median of "
          f"{a.repeat} runs per component, datatrove: one run")
    print("\n| component | ours docs/CPU-s | datatrove docs/CPU-s | speed-up | agreement | drops ours / datatrove |")
    print("|---|---|---|---|---|---|")
    report: dict = {"n": n, "load_average": load, "ours": {k: v for k, v in mine.items() if k not in ("keep", "reason")}}
    for name in FILTERS:
        ours_rate = n / max(mine["cpu_s"][name], 1e-9)
        if theirs and name in theirs:
            peer_rate = n / max(theirs[name]["cpu_s"], 1e-9)
            ag = agreement(mine, theirs, name)
            report.setdefault("agreement", {})[name] = ag
            print(f"| {name} | {ours_rate:,.0f} | {peer_rate:,.1f} | {ours_rate / peer_rate:,.0f}x | "
                  f"{100 * ag['agree']:.1f}% | {ag['ours_drop']} / {ag['peer_drop']} |")
        else:
            print(f"| {name} | {ours_rate:,.0f} | - | - | - | {mine['keep'][name].count(False)} / - |")
    if theirs:
        peer_total = sum(theirs[f]["cpu_s"] for f in FILTERS if f in theirs)
        ours_sep = sum(mine["cpu_s"][f] for f in FILTERS)
        ours_shared = mine["cpu_s"]["language"] + mine["cpu_s"]["all_rulesets_shared"]
        print(f"| five filters, each standalone | {n / ours_sep:,.0f} | {n / peer_total:,.1f} | {peer_total / ours_sep:,.0f}x | | |")
        print(f"| five filters in one pass (shared splits) | {n / ours_shared:,.0f} | {n / peer_total:,.1f} | "
              f"{peer_total / ours_shared:,.0f}x | | |")
    for extra in ("all_rulesets_shared", "quality_classifier", "token_count", "token_count_warm_cache",
                  "annotate_transform"):
        print(f"| {extra} | {n / max(mine['cpu_s'][extra], 1e-9):,.0f} | | | | |")
    if theirs:
        print("\nDisagreements (ours / datatrove: count):")
        for name, ag in report["agreement"].items():
            for k, v in ag["disagreements"].items():
                print(f"  {name}: {k}: {v}")
    acc = langid_accuracy()
    report["langid"] = acc
    print("\nLanguage id (lid.176.ftz) on the evaluation set's langid/:", json.dumps(acc, indent=1))
    check = classifier_check()
    report["classifier_aeb"] = check
    print("\nQuality classifier on AEB pages (article text vs. the rest of the page):", json.dumps(check, indent=1))
    if theirs:
        report["peer_cpu_s"] = {k: v["cpu_s"] for k, v in theirs.items()}
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
