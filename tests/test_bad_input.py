"""Never die, never lose: every bad record costs one ledger row with a precise reason, and the reader goes on.

The named cases of docs/DESIGN.md#bad-input, a Hypothesis fuzz over JSONL (plain, gzip, zstd, cut off) and
Parquet inputs, corrupted PDFs, and a Spark run over a folder of bad files whose funnel must add up.
`-m fuzz` runs the long fuzz (CURATION_FUZZ_EXAMPLES, default 1000).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation import schema as S
from curation.config import InputConfig
from curation.io.readers import read_file_isolated, reader_schema

CFG = InputConfig(max_record_bytes=64 << 10)


def rows_of(path: Path, cfg: InputConfig = CFG) -> list[dict]:
    batches = list(read_file_isolated(str(path), cfg))
    return pa.Table.from_batches(batches, schema=reader_schema()).to_pylist()


def by_source_line(rows: list[dict]) -> dict[str, dict]:
    return {r["source_id"].rsplit(":", 1)[-1] if ":" in r["source_id"] else r["source_id"]: r for r in rows}


GOOD = {"text": "A perfectly ordinary document with enough words to be kept by the reader."}


def write_jsonl(path: Path, lines: list[bytes]) -> Path:
    data = b"\n".join(lines) + b"\n"
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


# -- the cases named in the issue ---------------------------------------------------------------------------

@pytest.mark.parametrize("line, reason", [
    (b'{"text": "x", "meta": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nesting_too_deep"),
    (json.dumps({**GOOD, "crawl_date": 1e20}).encode(), "bad_field:crawl_date"),
    (json.dumps({**GOOD, "token_count": 2**70}).encode(), "bad_field:token_count"),
    (b'{"text": "nan date", "crawl_date": NaN}', "bad_field:crawl_date"),
    (b'{"text": "inf score", "language_score": Infinity}', "bad_field:language_score"),
    (b'{"text": "big", "n": ' + b"7" * 5000 + b"}", "number_too_large"),
    (b'{"text": "cut', "invalid_json"),
    (b"[1, 2, 3]", "invalid_json"),
    (b'{"text": "caf\xe9"}', "invalid_utf8"),
    (b'{"text": 42}', "bad_type"),
    (b'{"id": "no text"}', "missing_text"),
    (b'{"text": "' + b"a" * (100 << 10) + b'"}', "record_too_large"),
])
def test_one_bad_line_is_one_row_and_the_file_goes_on(tmp_path, line, reason):
    path = write_jsonl(tmp_path / "in.jsonl", [json.dumps({"id": "before", **GOOD}).encode(), line,
                                                json.dumps({"id": "after", **GOOD}).encode()])
    rows = rows_of(path)
    assert len(rows) == 3
    assert [r["decision"] for r in rows] == [S.KEPT, S.QUARANTINED, S.KEPT]
    assert rows[1]["reason"] == reason and rows[1]["detail"]
    assert rows[2]["source_id"] == "after"


def test_empty_and_blank_files_have_one_row_each(tmp_path):
    for name, data in [("empty.jsonl", b""), ("blank.jsonl", b"\n \n\r\n"), ("empty.jsonl.gz", gzip.compress(b""))]:
        (tmp_path / name).write_bytes(data)
        rows = rows_of(tmp_path / name)
        assert [(r["decision"], r["reason"]) for r in rows] == [(S.QUARANTINED, "empty_file")], name
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}), tmp_path / "e.parquet")
    assert [r["reason"] for r in rows_of(tmp_path / "e.parquet")] == ["empty_file"]


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_a_cut_stream_keeps_every_whole_line_and_says_where_it_stopped(tmp_path, suffix):
    lines = [json.dumps({"id": f"d{i}", "text": f"document {i} " * 40}).encode() for i in range(2000)]
    whole = write_jsonl(tmp_path / f"whole{suffix}", lines)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    rows = rows_of(cut)
    kept = [r for r in rows if r["decision"] == S.KEPT]
    assert [r["source_id"] for r in kept] == [f"d{i}" for i in range(len(kept))]
    assert 0 < len(kept) < 2000 and rows[-1]["reason"] == "truncated_stream" and len(rows) == len(kept) + 1


def test_a_corrupt_gzip_and_a_decompression_bomb_stop_with_one_row(tmp_path, monkeypatch):
    from curation.io import streams

    good = write_jsonl(tmp_path / "a.jsonl.gz", [json.dumps(GOOD).encode()] * 200).read_bytes()
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(good[:40] + bytes(b ^ 0x5A for b in good[40:80]) + good[80:])
    assert rows_of(bad)[-1]["reason"] == "corrupt_stream"
    monkeypatch.setattr(streams, "RATIO_FLOOR", 1 << 20)
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(b" " * (64 << 20)))  # 64 MiB of blanks in ~64 KiB
    rows = rows_of(bomb)
    assert [r["reason"] for r in rows] == ["decompression_bomb"]


def test_a_huge_line_is_skipped_in_linear_time_and_bounded_memory(tmp_path):
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as f:
        f.write(b'{"text": "')
        for _ in range(50):
            f.write(b"a" * (1 << 20))
        f.write(b'"}\n' + json.dumps(GOOD).encode() + b"\n")
    rows = rows_of(path)
    assert [r["reason"] for r in rows] == ["record_too_large", None]
    assert "52428812 bytes" in rows[0]["detail"]


def test_provenance_is_the_readers_and_input_ids_never_collide(tmp_path):
    lines = [json.dumps({"doc_id": "same", "text": f"text {i}", "source": "/etc/passwd", "source_type": "pdf"}).encode()
             for i in range(30)]
    path = write_jsonl(tmp_path / "in.jsonl", lines)
    rows = rows_of(path)
    assert len({r["doc_id"] for r in rows}) == 30 and all(r["doc_id"] != "same" for r in rows)
    assert {r["source"] for r in rows} == {str(path)} and {r["source_type"] for r in rows} == {"jsonl"}
    meta = json.loads(rows[0]["metadata"])
    assert meta["input_doc_id"] == "same" and meta["input_source"] == "/etc/passwd" and meta["input_source_type"] == "pdf"
    # the same records in a second file get other ids: two inputs can never collide
    other = write_jsonl(tmp_path / "copy.jsonl", lines)
    assert not {r["doc_id"] for r in rows} & {r["doc_id"] for r in rows_of(other)}


def test_a_reader_bug_costs_one_row_not_the_task(tmp_path, monkeypatch):
    from curation.io import readers

    def broken(*a, **k):
        raise RuntimeError("simulated reader bug")
        yield  # pragma: no cover

    monkeypatch.setattr(readers, "read_jsonl", broken)
    path = write_jsonl(tmp_path / "in.jsonl", [json.dumps(GOOD).encode()])
    assert [(r["reason"], r["decision"]) for r in rows_of(path)] == [("reader_error", S.QUARANTINED)]


def test_corrupted_pdfs_each_get_one_row(tmp_path, sample_dir):
    from curation.stages.ingest.pdf.config import PdfConfig
    from curation.stages.ingest.pdf.pipeline import parse_pdfs

    src = (sample_dir / "pdf" / "topology-hw-1.pdf").read_bytes()
    rng = random.Random(3)
    records = [{"source": "fuzz", "source_id": "empty", "content": b""},
               {"source": "fuzz", "source_id": "huge", "content": b"%PDF-1.4" + b"0" * 5000},
               {"source": "fuzz", "source_id": "missing", "path": str(tmp_path / "nope.pdf")}]
    for i in range(6):
        data = bytearray(src[: rng.randint(10, len(src))])
        for _ in range(rng.randint(0, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        records.append({"source": "fuzz", "source_id": f"f{i}", "content": bytes(data)})
    out = parse_pdfs(records, PdfConfig(max_bytes=4096, alpha=0.0))
    assert len(out) == len(records)
    reasons = {r["source_id"]: r["reason"] for r in out}
    assert reasons["huge"] == "pdf_too_large" and reasons["missing"] == "pdf_unreadable"
    for r in out:
        assert r["decision"] in S.DECISIONS and (r["decision"] == S.KEPT or r["reason"])


# -- fuzz: any mix of records, any container, any cut ---------------------------------------------------------

def _record(kind: str, i: int, draw_text: str) -> bytes:
    return {
        "good": lambda: json.dumps({"id": f"g{i}", "text": draw_text or "x"}).encode(),
        "bad_json": lambda: b'{"text": ' + draw_text.encode("utf-8", "replace")[:20],
        "bytes": lambda: bytes(random.Random(i).randrange(1, 256) for _ in range(30)).replace(b"\n", b" "),
        "deep": lambda: b'{"a": ' + b"[" * 3000 + b"]" * 3000 + b', "text": "t"}',
        "nan": lambda: b'{"text": "t", "crawl_date": NaN}',
        "digits": lambda: b'{"text": "t", "n": ' + b"9" * 4400 + b"}",
        "huge": lambda: b'{"text": "' + b"b" * (70 << 10) + b'"}',
        "ints": lambda: json.dumps({"text": "t", "token_count": 2**64 + i, "language_score": 7}).encode(),
        "ids": lambda: json.dumps({"text": draw_text or "t", "doc_id": "dup", "source_type": "pdf"}).encode(),
        "blank": lambda: b"   ",
    }[kind]()


KINDS = ["good", "bad_json", "bytes", "deep", "nan", "digits", "huge", "ints", "ids", "blank"]
FUZZ_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _fuzz_jsonl(tmp_path: Path, kinds: list[str], texts: list[str], suffix: str, cut: float | None) -> None:
    lines = [_record(k, i, texts[i % len(texts)]) for i, k in enumerate(kinds)]
    path = write_jsonl(tmp_path / f"f{abs(hash((tuple(kinds), suffix, cut))) % 10**9}{suffix}", lines)
    if cut is not None:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * cut)])
    rows = rows_of(path)  # must not raise
    records = sum(1 for k in kinds if k != "blank")
    assert rows, "every file yields at least one row"
    assert len({r["doc_id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["decision"] in S.DECISIONS and (r["decision"] == S.KEPT or r["reason"])
    if cut is None:
        assert len(rows) == (records or 1)  # exactly one row per record (or one empty_file row)
        assert sum(r["decision"] == S.KEPT for r in rows) == sum(1 for k in kinds if k in ("good", "ids"))
    else:
        assert len(rows) <= records + 1
    path.unlink()


@settings(max_examples=int(os.environ.get("CURATION_FUZZ_EXAMPLES_FAST", "40")), **FUZZ_SETTINGS)
@given(kinds=st.lists(st.sampled_from(KINDS), max_size=25), texts=st.lists(st.text(max_size=60), min_size=1, max_size=4),
       suffix=st.sampled_from([".jsonl", ".jsonl.gz", ".jsonl.zst"]),
       cut=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)))
def test_fuzz_jsonl_never_raises_and_accounts_for_every_record(tmp_path, kinds, texts, suffix, cut):
    _fuzz_jsonl(tmp_path, kinds, texts, suffix, cut)


@pytest.mark.fuzz
@settings(max_examples=int(os.environ.get("CURATION_FUZZ_EXAMPLES", "1000")), **FUZZ_SETTINGS)
@given(kinds=st.lists(st.sampled_from(KINDS), max_size=60), texts=st.lists(st.text(max_size=200), min_size=1, max_size=8),
       suffix=st.sampled_from([".jsonl", ".jsonl.gz", ".jsonl.zst"]),
       cut=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)))
def test_fuzz_jsonl_long(tmp_path, kinds, texts, suffix, cut):
    _fuzz_jsonl(tmp_path, kinds, texts, suffix, cut)


@settings(max_examples=25, **FUZZ_SETTINGS)
@given(values=st.lists(st.one_of(st.none(), st.text(max_size=40), st.integers(), st.floats(allow_nan=True)),
                       min_size=0, max_size=20),
       cut=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)))
def test_fuzz_parquet_never_raises_and_accounts_for_every_row(tmp_path, values, cut):
    n = len(values)
    table = pa.table({"id": [f"r{i}" for i in range(n)], "text": [v if isinstance(v, str) else None for v in values],
                      "crawl_date": [v if isinstance(v, float) else None for v in values],
                      "token_count": [v if isinstance(v, int) and abs(v) < 2**62 else None for v in values]})
    path = tmp_path / "f.parquet"
    pq.write_table(table, path)
    if cut is not None:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * cut)])
    rows = rows_of(path)
    assert rows and len({r["doc_id"] for r in rows}) == len(rows)
    if cut is None:
        assert len(rows) == (n or 1)
    for r in rows:
        assert r["decision"] in S.DECISIONS and (r["decision"] == S.KEPT or r["reason"])


# -- a whole run: the funnel adds up, a failed stage looks failed ---------------------------------------------

@pytest.mark.spark
def test_a_run_over_bad_files_finishes_and_accounts_for_every_record(spark, tmp_path, make_config):
    from curation.engine.runner import run_pipeline
    from curation.io.manifest import funnel_problems

    inputs = tmp_path / "in"
    inputs.mkdir()
    good = [json.dumps({"id": f"g{i}", "text": f"good document number {i} with several words"}).encode() for i in range(40)]
    bad = [_record(k, i, "t") for i, k in enumerate(KINDS) if k not in ("good", "blank", "ids")]
    write_jsonl(inputs / "mixed.jsonl", good[:20] + bad + good[20:])
    cut = write_jsonl(inputs / "cut.jsonl.gz", good)
    cut.write_bytes(cut.read_bytes()[:-30])
    (inputs / "empty.jsonl").write_bytes(b"")
    cfg = make_config(**{"pipeline.stages": "[read, normalize]", "input.max_record_bytes": 65536})
    manifest = run_pipeline(cfg, inputs=[str(inputs)], out_dir=str(tmp_path / "run"), spark=spark)
    assert funnel_problems(manifest) == []
    read = manifest["stages"][0]
    readable = zlib.decompressobj(wbits=31).decompress(cut.read_bytes())
    # mixed file: one row per line; cut file: every line readable before the cut, plus one row for the cut;
    # empty file: one row
    assert read["docs"]["in"] == len(good) + len(bad) + (readable.count(b"\n") + 1) + 1
    assert read["reasons"]["empty_file"]["docs"] == 1 and read["reasons"]["truncated_stream"]["docs"] == 1
    ledger = spark.read.parquet(str(tmp_path / "run" / "ledger" / "00-read")).count()
    assert ledger == read["docs"]["in"]


@pytest.mark.spark
def test_a_stage_that_fails_is_marked_failed_and_the_next_run_resumes(spark, tmp_path, make_config, monkeypatch):
    from curation.engine.runner import run_pipeline
    from curation.io.manifest import Manifest
    from curation.stages.normalize import stage as normalize

    path = write_jsonl(tmp_path / "in.jsonl", [json.dumps({"id": str(i), **GOOD}).encode() for i in range(5)])
    cfg = make_config(**{"pipeline.stages": "[read, normalize]"})
    out = tmp_path / "run"

    def boom(self, ctx, docs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(normalize.NormalizeStage, "apply", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        run_pipeline(cfg, inputs=[str(path)], out_dir=str(out), spark=spark)
    m = Manifest.load(str(out))
    assert [s["status"] for s in m.stages] == ["done", "failed"]
    assert "disk full" in m.stages[1]["error"]
    from curation.cli import main

    assert main(["inspect", str(out)]) == 1  # inspect says the run failed
    monkeypatch.undo()
    manifest = run_pipeline(cfg, inputs=[str(path)], out_dir=str(out), spark=spark)
    assert [s["status"] for s in manifest["stages"]] == ["done", "done"] and manifest["stages"][1]["docs"]["kept"] == 5
    assert main(["inspect", str(out)]) == 0


def test_inspect_fails_loudly_when_the_funnel_does_not_add_up(tmp_path, capsys):
    from curation.cli import main

    stage = {"name": "read", "status": "done", "docs": {"in": 10, "kept": 7, "dropped": 1, "quarantined": 1},
             "tokens": {}, "reasons": {"x": {"decision": "dropped", "docs": 1, "tokens": 0},
                                       "y": {"decision": "quarantined", "docs": 1, "tokens": 0}}}
    nxt = {**stage, "name": "normalize", "docs": {"in": 6, "kept": 4, "dropped": 1, "quarantined": 1}}
    (tmp_path / "manifest.json").write_text(json.dumps({"stages": [stage, nxt]}))
    assert main(["inspect", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "read: in 10 != kept + dropped + quarantined 9" in err and "normalize: in 6 != 7 kept by the stage before" in err


def test_a_transform_that_raises_on_one_document_quarantines_only_that_document():
    from curation.engine.batches import isolated

    schema = S.decided_schema(pa.schema([("doc_id", pa.string()), ("text", pa.string()), ("n", pa.int64())]))
    batch = pa.RecordBatch.from_pydict({"doc_id": ["a", "b", "c", "d"], "text": ["ok", "poison", "fine", "poison"],
                                        "decision": ["kept", "kept", "kept", "dropped"], "reason": [None, None, None, "x"],
                                        "related_id": [None] * 4, "detail": [None] * 4})

    def fn(b: pa.RecordBatch) -> pa.RecordBatch:
        texts = b.column("text").to_pylist()
        if "poison" in texts:
            raise ZeroDivisionError("a bug one document triggers")
        return pa.RecordBatch.from_pydict({**b.to_pydict(), "n": [len(t) for t in texts]})

    out = isolated(fn, batch, schema).to_pylist()
    assert [(r["doc_id"], r["decision"], r["reason"], r["n"]) for r in out] == [
        ("a", "kept", None, 2), ("b", "quarantined", "transform_error", None), ("c", "kept", None, 4),
        ("d", "dropped", "x", None)]
    assert "ZeroDivisionError" in out[1]["detail"]


def test_a_transform_that_fails_on_every_document_still_fails_the_run():
    """A missing model or a dead server is not bad data: it must not turn a whole corpus into quarantined rows."""
    from curation.engine.batches import isolated

    schema = S.decided_schema(pa.schema([("doc_id", pa.string())]))
    batch = pa.RecordBatch.from_pydict({"doc_id": ["a", "b"], "decision": ["kept", "kept"], "reason": [None, None],
                                        "related_id": [None, None], "detail": [None, None]})

    def fn(b: pa.RecordBatch) -> pa.RecordBatch:
        raise FileNotFoundError("model not found")

    with pytest.raises(FileNotFoundError):
        isolated(fn, batch, schema)
