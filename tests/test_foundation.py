"""Foundation: schemas, config validation, readers' quarantine, the normalize transform (no Spark)."""

from __future__ import annotations

import gzip
import json
import zlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import schema as S
from curation.config import ConfigError, InputConfig, load_config
from curation.engine.batches import run_in_process
from curation.io.readers import read_file, reader_schema
from curation.stages.normalize.stage import NormalizeConfig, NormalizeTransform


def test_schema_round_trip_through_parquet(tmp_path):
    schema = S.document_schema()
    row = {f.name: None for f in schema}
    row.update(doc_id="d1", source_id="s1", source="x.jsonl", source_type="jsonl", text="héllo", token_count=2)
    table = pa.Table.from_pylist([row], schema=schema)
    pq.write_table(table, tmp_path / "t.parquet")
    back = pq.read_table(tmp_path / "t.parquet")
    assert back.schema.equals(schema, check_metadata=False)
    assert back.to_pylist() == table.to_pylist()
    assert S.check_compatible(back.schema, S.core_document_schema()) == []
    assert "missing required column 'doc_id'" in S.check_compatible(back.drop(["doc_id"]).schema, S.core_document_schema())


def test_every_schema_field_is_documented():
    for schema in (S.document_schema(), S.ledger_schema()):
        for f in schema:
            assert f.metadata and f.metadata.get(b"doc"), f"{f.name} has no doc"


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="unknown key normalize.formm"):
        load_config(None, ["normalize.formm=NFC"])
    with pytest.raises(ConfigError, match="spark.shuffle_partitions: expected an integer"):
        load_config(None, ["spark.shuffle_partitions=many"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="unknown config section 'nope'"):
        load_config(None, ["nope.x=1"])
    with pytest.raises(ConfigError, match="not one of"):
        load_config(None, ["normalize.form=NFX"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("spark: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    cfg = load_config(None, ["normalize.max_blank_lines=2", "input.paths=[a, b]"])
    assert cfg.normalize.max_blank_lines == 2 and cfg.input.paths == ["a", "b"]


def test_config_hash_ignores_spark_tuning_and_output_dir():
    a = load_config(None, ["spark.shuffle_partitions=3", "output.dir=/x"])
    b = load_config(None, ["spark.shuffle_partitions=9", "output.dir=/y"])
    c = load_config(None, ["normalize.form=NFKC"])
    assert a.hash() == b.hash() != c.hash()


def _corrupt_jsonl(path):
    lines = [
        json.dumps({"id": "ok1", "text": "A fine document."}).encode(),
        b'{"id": "broken", "text": "unterminated',
        json.dumps({"id": "notext", "body": "no text field"}).encode(),
        b'{"id": "latin1", "text": "caf\xe9"}',
        json.dumps({"id": "num", "text": 42}).encode(),
        b"[1, 2, 3]",
        json.dumps({"id": "surrogate", "text": "bad \ud800 half"}).encode(),
        b"",
        json.dumps({"text": "no id but fine", "url": "https://Example.org/a"}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_corrupt_lines_are_quarantined_with_reasons(tmp_path):
    path = _corrupt_jsonl(tmp_path / "in.jsonl")
    rows = pa.Table.from_batches(list(read_file(str(path), InputConfig())), schema=reader_schema()).to_pylist()
    by_reason = {}
    for r in rows:
        by_reason.setdefault(r["reason"], []).append(r)
    assert len(rows) == 8  # the blank line is not a record; every other line is accounted for
    assert [r["source_id"] for r in by_reason[None]] == ["ok1", f"{path}:9"]
    assert {k: len(v) for k, v in by_reason.items() if k} == {
        "invalid_json": 2, "missing_text": 1, "invalid_utf8": 2, "bad_type": 1}
    assert all(r["decision"] == S.QUARANTINED and r["detail"] for k, v in by_reason.items() if k for r in v)
    fine = by_reason[None][1]
    assert fine["domain"] == "example.org" and fine["token_count"] == 4
    assert len({r["doc_id"] for r in rows}) == len(rows)


def test_repair_mode_keeps_invalid_utf8_with_a_note(tmp_path):
    path = _corrupt_jsonl(tmp_path / "in.jsonl")
    rows = pa.Table.from_batches(list(read_file(str(path), InputConfig(invalid_utf8="repair")))).to_pylist()
    latin = [r for r in rows if r["source_id"] == "latin1"][0]
    assert latin["decision"] == S.KEPT and latin["text"] == "caf\ufffd" and "repaired" in latin["detail"]


def test_truncated_gzip_keeps_what_was_read_and_says_so(tmp_path):
    blob = gzip.compress(b"".join(json.dumps({"id": i, "text": f"doc {i} " * 50}).encode() + b"\n" for i in range(3000)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(blob[: len(blob) // 2])
    rows = pa.Table.from_batches(list(read_file(str(path), InputConfig()))).to_pylist()
    assert rows[-1]["reason"] == "truncated_stream" and rows[-1]["decision"] == S.QUARANTINED
    kept = [r for r in rows if r["decision"] == S.KEPT]
    # every line that was whole before the cut is kept, in order, and the cut one is the last row
    assert [r["source_id"] for r in kept] == [str(i) for i in range(len(kept))] and len(rows) == len(kept) + 1
    full = gzip.decompress(blob)
    readable = zlib.decompressobj(wbits=31).decompress(blob[: len(blob) // 2])
    assert len(kept) == readable.count(b"\n") and len(kept) < full.count(b"\n")


def test_zstd_and_unknown_format(tmp_path):
    import zstandard

    path = tmp_path / "a.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b'{"id": "z", "text": "zstd text"}\n'))
    rows = pa.Table.from_batches(list(read_file(str(path), InputConfig()))).to_pylist()
    assert rows[0]["text"] == "zstd text"
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    rows = pa.Table.from_batches(list(read_file(str(other), InputConfig()))).to_pylist()
    assert rows[0]["reason"] == "unsupported_format"


def _decided(texts):
    rows = [{"doc_id": str(i), "source_id": str(i), "source": "t", "source_type": "jsonl", "text": t,
             "decision": "kept"} for i, t in enumerate(texts)]
    return pa.Table.from_pylist(rows, schema=reader_schema())


def test_normalize_transform():
    table = _decided([
        "Cafe\u0301  au   lait\r\nline two   \n\n\n\n\nend",
        "   \n\t ",
        "\x00\x01 visible\u200b text",
        "\ufffd\ufffd\ufffd ab",
    ])
    out = run_in_process(NormalizeTransform(NormalizeConfig()), table).to_pylist()
    assert out[0]["text"] == "Café au lait\nline two\n\nend" and out[0]["decision"] == "kept"
    assert out[1]["decision"] == "dropped" and out[1]["reason"] == "empty"
    assert out[2]["text"] == "visible text"
    assert out[3]["decision"] == "quarantined" and out[3]["reason"] == "invalid_utf8"


def test_normalize_repairs_invalid_utf8_from_foreign_parquet():
    raw = pa.array([b"ok", b"bad \xff\xfe bytes here and more words to dilute it"], pa.binary()).cast(pa.string(), safe=False)
    base = _decided(["ok", "placeholder"])
    idx = base.schema.get_field_index("text")
    base = base.set_column(idx, "text", raw)
    out = run_in_process(NormalizeTransform(NormalizeConfig()), base).to_pylist()
    assert out[1]["decision"] == "kept" and "\ufffd" in out[1]["text"]
    out = run_in_process(NormalizeTransform(NormalizeConfig(invalid_utf8="quarantine")), base).to_pylist()
    assert out[1]["decision"] == "quarantined"


def test_foreign_parquet_with_other_types_goes_through_the_validating_reader(tmp_path):
    import datetime

    from curation.io.readers import is_document_parquet

    table = pa.table({"doc_id": ["a", "b"], "source_id": ["s1", "s2"], "source": ["x", "x"], "text": ["hello world", None],
                      "crawl_date": pa.array([datetime.datetime(2024, 1, 1)] * 2, pa.timestamp("ns"))})
    pq.write_table(table, tmp_path / "foreign.parquet")
    assert not is_document_parquet(str(tmp_path / "foreign.parquet"))
    rows = pa.Table.from_batches(list(read_file(str(tmp_path / "foreign.parquet"), InputConfig()))).to_pylist()
    assert rows[0]["decision"] == S.KEPT and rows[0]["crawl_date"].year == 2024
    assert rows[1]["decision"] == S.QUARANTINED and rows[1]["reason"] == "missing_text"
    own = S.conform(pa.table({"doc_id": ["a"], "source_id": ["s"], "source": ["x"], "source_type": ["jsonl"],
                              "text": ["t"]}), S.core_document_schema())
    pq.write_table(own, tmp_path / "own.parquet")
    assert is_document_parquet(str(tmp_path / "own.parquet"))


def test_bare_off_in_yaml_means_the_mode_off(tmp_path):
    """YAML 1.1 reads `mode: off` as false; a mode that has an "off" value takes it as "off"."""
    from curation.config import load_config

    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("annotate:\n  language:\n    mode: off\n")
    cfg = load_config(cfg_file, ["annotate.c4.mode=off"])
    assert cfg.annotate.language.mode == "off" and cfg.annotate.c4.mode == "off"
