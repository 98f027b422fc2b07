"""REWIRE pieces without a model: prompts, parser, cache, budget arithmetic, post-filter, the batch transform."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from curation.schema import core_document_schema
from curation.stages.rewrite.backends import Generation, Sampling
from curation.stages.rewrite.cache import RewriteCache, cache_key, document_hash
from curation.stages.rewrite.generate import RewriteTransform, rewrite_schema
from curation.stages.rewrite.parse import parse_output
from curation.stages.rewrite.postfilter import keep_count, mix_weights
from curation.stages.rewrite.prompts import END, START, THINK_END, THINK_START, load_template, parse_template

DOC = "How to boil an egg {not a placeholder}: put it in water. boil. done.\nClick here to subscribe!"


def test_rewire_prompt_has_the_papers_structure_and_is_byte_identical():
    t = load_template("rewire")
    p = t.build(DOC)
    assert "draft written by an AI assistant" in p
    assert "expert" in p and "step-by-step plan" in p
    assert "not be shorter than the draft" in p and "formatting" in p
    for marker in (START, END, THINK_START, THINK_END):
        assert marker in p
    assert p.endswith("Original Draft:\n" + DOC + "\n")
    assert load_template("rewire").build(DOC) == p  # byte-identical
    assert t.parse == "strict" and t.id.startswith("rewire-v1+")


def test_simple_template_and_versioning():
    s = load_template("simple")
    assert s.parse == "lenient" and START in s.build("x") and "Original Draft:\nx" in s.build("x")
    changed = parse_template("# name: simple\n# version: 1\n# parse: lenient\n---\nOther words {document}\n")
    assert changed.id != s.id  # same name and version, edited body: a different cache key
    with pytest.raises(ValueError, match="exactly once"):
        parse_template("# name: x\n# version: 1\n# parse: strict\n---\nno placeholder\n")
    with pytest.raises(ValueError, match="unknown prompt template"):
        load_template("nope")


@pytest.mark.parametrize("raw,problem", [
    (f"{THINK_START} plan {THINK_END}\n{START}\nBetter text.\n{END}", None),
    (f"{THINK_START} plan {THINK_END} Better text. {END}", "missing_start_marker"),
    (f"{START} Better text.", "missing_end_marker"),
    (f"{START} a {END} {START} b {END}", "duplicate_marker"),
    (f"{END} a {START}", "marker_order"),
    (f"{START} {THINK_START} leak {THINK_END} {END}", "thinking_leak"),
    (f"{START}   {END}", "empty_response"),
    ("", "empty_output"),
    (None, "empty_output"),
])
def test_strict_parser(raw, problem):
    got = parse_output(raw, "strict")
    assert got.problem == problem
    if problem is None:
        assert got.text == "Better text." and "plan" not in got.text


def test_strict_parser_reports_truncation():
    assert parse_output(f"{THINK_START} long thinking", "strict", "length").problem == "truncated"


def test_lenient_parser():
    assert parse_output("Plain rewrite.", "lenient", "stop").text == "Plain rewrite."
    assert parse_output(f"{START}\nRewrite.\n{END}\nchatter", "lenient").text == "Rewrite."
    assert parse_output(f"{START} Rewrite without end", "lenient", "stop").text == "Rewrite without end"
    assert parse_output("cut mid-sen", "lenient", "length").problem == "truncated"
    assert parse_output(f"{THINK_START} x {THINK_END} The rewrite.", "lenient").text == "The rewrite."


def test_cache_round_trip_and_key(tmp_path):
    c = RewriteCache(tmp_path)
    k = cache_key(document_hash("doc"), "rewire-v1+abc", "m")
    assert c.get(k) is None
    c.put(k, {"text": "t"})
    assert c.get(k) == {"text": "t"}
    assert len({cache_key(document_hash("doc"), "v", "m"), cache_key(document_hash("doc2"), "v", "m"),
                cache_key(document_hash("doc"), "v2", "m"), cache_key(document_hash("doc"), "v", "m2")}) == 4
    (tmp_path / k[:2] / f"{k}.json").write_text("{half")
    assert c.get(k) is None  # a half-written file is a miss, not a crash
    assert RewriteCache(None).get(k) is None


def test_keep_count_and_mixture():
    assert keep_count(95, 0.1) == 10 and keep_count(100, 0.1) == 10 and keep_count(1, 0.1) == 1 and keep_count(0, 0.1) == 0
    w_raw, w_rw = mix_weights(9000, 1000, 0.5)
    assert 9000 * w_raw == pytest.approx(1000 * w_rw) and 9000 * w_raw + 1000 * w_rw == pytest.approx(10_000)
    w_raw, w_rw = mix_weights(6000, 2000, 0.4)
    assert 2000 * w_rw / (6000 * w_raw + 2000 * w_rw) == pytest.approx(0.4)


class ExpandBackend:
    """A deterministic rewriter (docs/PAPERS.md 5c.3): the improved response is the draft plus an expansion."""

    model = "mock-expand"

    def __init__(self, bad_every: int = 0, fail_every: int = 0):
        self.calls = 0
        self.bad_every, self.fail_every = bad_every, fail_every

    def check(self) -> None:
        pass

    def generate(self, prompts: list[str], sampling: Sampling) -> list[Generation]:
        out = []
        for p in prompts:
            self.calls += 1
            draft = p.split("Original Draft:\n", 1)[1].strip()
            if self.fail_every and self.calls % self.fail_every == 0:
                out.append(Generation(None, error="timeout", detail="no answer"))
            elif self.bad_every and self.calls % self.bad_every == 0:
                out.append(Generation("I cannot help with that.", "stop", 10, 6))
            else:
                text = f"{THINK_START} plan {THINK_END}\n{START}\n{draft}\nIn short: {draft[:40]}\n{END}"
                out.append(Generation(text, "stop", 10, 20))
        return out


def _pool(n: int) -> pa.RecordBatch:
    ids = [f"p{i}" for i in range(n)]
    return pa.RecordBatch.from_pydict({
        "doc_id": ids, "source_id": [f"src{i}" for i in range(n)], "source": ["s"] * n, "source_type": ["jsonl"] * n,
        "text": [f"document number {i} about topic {i % 7}" if i != 3 else "" for i in range(n)],
        "token_count": [8] * n, "quality_score": [i / n for i in range(n)],
        "decision": ["dropped"] * n, "reason": ["below_quality_threshold"] * n, "related_id": [None] * n,
        "detail": [None] * n,
    })


def test_transform_accounts_for_every_attempt_and_caches(tmp_path):
    schema = rewrite_schema(pa.schema(list(core_document_schema()) + [pa.field("quality_score", pa.float64())]))
    backend = ExpandBackend(bad_every=4, fail_every=5)
    fn = RewriteTransform(backend, load_template("rewire"), Sampling(), schema, str(tmp_path / "cache"))
    out = fn(_pool(12)).to_pylist()
    assert len(out) == 12 and backend.calls == 11  # the empty document is not sent
    reasons = [r["reason"] for r in out]
    assert reasons.count("backend_error:timeout") == 2
    assert reasons.count("backend_error:empty_input") == 1
    assert all(r == "malformed_output:missing_start_marker" for r in reasons if r and r.startswith("malformed"))
    kept = [r for r in out if r["decision"] == "kept"]
    assert kept and all(r["source_type"] == "rewrite" and r["related_id"].startswith("src") for r in out)
    assert all(START not in r["text"] and "plan" not in r["text"] for r in kept)
    assert len({r["doc_id"] for r in out}) == 12
    assert all(r["rewrite_prompt_version"].startswith("rewire-v1") and r["rewrite_model"] == "mock-expand" for r in out)
    # rerun: valid and malformed generations come from the cache, backend errors are retried
    backend2 = ExpandBackend()
    again = RewriteTransform(backend2, load_template("rewire"), Sampling(), schema, str(tmp_path / "cache"))(_pool(12))
    assert backend2.calls == 2
    assert sum(again.column("rewrite_cached").to_pylist()) == 9
    assert not math.isnan(len(again))
