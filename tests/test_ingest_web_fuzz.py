"""Fuzz: random truncations and byte flips of the real WARC files never crash the per-file reader and
never lose a readable record from the accounting."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from curation import schema as S
from curation.stages.ingest.config import IngestConfig
from curation.stages.ingest.web.documents import read_web_file
from curation.stages.ingest.web.warc import GZIP_MAGIC

CASES = 320
CFG = IngestConfig(extract_timeout_s=0)  # in-process extraction: the fuzz targets framing and accounting


def _warcs(sample_dir: Path) -> list[Path]:
    files = sorted(p for p in (sample_dir / "warc").iterdir() if p.is_file())
    assert len(files) >= 6
    return files


def _rows(path: Path) -> list[dict]:
    batches = list(read_web_file(str(path), CFG, batch_size=64))
    return pa.Table.from_batches(batches).to_pylist() if batches else []


def _check_rows(rows: list[dict]) -> None:
    assert rows, "every file yields at least one row"
    for r in rows:
        assert r["decision"] in S.DECISIONS
        assert r["doc_id"] and r["source_id"] and r["source"]
        if r["decision"] != S.KEPT:
            assert r["reason"], r
        else:
            assert r["text"]
    assert len({r["doc_id"] for r in rows}) == len(rows)


def _positions(path: Path) -> dict[str, str]:
    """source_id -> position (the reader's doc ids are position-based; recover positions by re-reading)."""
    from curation.stages.ingest.web.warc import RawRecord, iter_records

    out = {}
    with open(path, "rb") as f:
        for item in iter_records(f):
            if isinstance(item, RawRecord):
                rid = (item.headers.get("warc-record-id") or "").strip().strip("<>") or f"{path}@{item.position}"
                out[rid] = item.position
    return out


@pytest.mark.parametrize("seed", [0])
def test_fuzz_truncations_and_flips(sample_dir: Path, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    files = _warcs(sample_dir)
    originals = {}
    for p in files:
        data = p.read_bytes()
        rows = _rows(p)
        _check_rows(rows)
        pos = _positions(p)
        originals[p] = (data, rows, pos)
    checked_records = quarantined_cases = 0
    for case in range(CASES):
        p = files[case % len(files)]
        data, rows, pos = originals[p]
        mutated = bytearray(data)
        kind = rng.choice(["truncate", "flip", "both"])
        cut = len(data)
        flips: list[int] = []
        if kind in ("truncate", "both"):
            cut = rng.randrange(0, len(data))
            del mutated[cut:]
        if kind in ("flip", "both") and mutated:
            for _ in range(rng.randint(1, 4)):
                j = rng.randrange(len(mutated))
                mutated[j] ^= 1 << rng.randrange(8)
                flips.append(j)
        target = tmp_path / (f"case{case}" + "".join(p.suffixes))
        target.write_bytes(bytes(mutated))
        got = _rows(target)  # must not raise
        _check_rows(got)
        quarantined_cases += any(r["decision"] == S.QUARANTINED for r in got)
        # Accounting: every record whose bytes lie wholly before the cut and away from every flip is
        # still there, with the same decision and reason as in the intact file.
        per_member = data[:3] == GZIP_MAGIC and data.count(GZIP_MAGIC) > 1
        plain = data[:3] != GZIP_MAGIC
        if not (per_member or (plain and not flips)):
            continue
        by_id = {r["source_id"]: r for r in got}
        starts = sorted(int(v) for v in pos.values() if v.isdigit())
        for r in rows:
            position = pos.get(r["source_id"])
            if position is None or not position.isdigit():
                continue
            start = int(position)
            later = [s for s in starts if s > start]
            end = later[0] if later else len(data)
            if end > cut or any(start <= j < end for j in flips):
                continue
            # A flip in an earlier record can only make us lose this one if resync failed.
            rid = r["source_id"].replace(str(p), str(target))
            assert rid in by_id, f"case {case} ({kind}, cut={cut}, flips={flips}): record {rid} at {start} lost"
            assert (by_id[rid]["decision"], by_id[rid]["reason"]) == (r["decision"], r["reason"]), (case, rid)
            checked_records += 1
    print(f"{CASES} cases, {checked_records} intact records checked, {quarantined_cases} cases with quarantined rows")
    assert checked_records > 1000
    assert quarantined_cases > CASES // 3  # the mutations really damaged records


def test_fuzz_through_the_extraction_worker(sample_dir: Path, tmp_path: Path) -> None:
    """The worker path (shared-memory pages, one worker for all cases) gives exactly the in-process rows on
    damaged files too: one row per record, none lost, same decisions, reasons and texts."""
    from curation.stages.ingest.web.sandbox import Extractor

    rng = random.Random(1)
    files = _warcs(sample_dir)
    guarded_cfg = IngestConfig(extract_timeout_s=30)
    compared = 0
    with Extractor(guarded_cfg.extractor, guarded_cfg.extract_timeout_s, guarded_cfg.router_threshold) as ex:
        for case in range(40):
            p = files[case % len(files)]
            mutated = bytearray(p.read_bytes())
            del mutated[rng.randrange(len(mutated) // 2, len(mutated) + 1):]
            for _ in range(rng.randint(0, 3)):
                j = rng.randrange(len(mutated))
                mutated[j] ^= 1 << rng.randrange(8)
            target = tmp_path / (f"g{case}" + "".join(p.suffixes))
            target.write_bytes(bytes(mutated))
            want = _rows(target)
            got = pa.Table.from_batches(list(read_web_file(str(target), guarded_cfg, 64, extractor=ex))).to_pylist()
            for r in want + got:
                r.pop("html_extract_ms")
            assert got == want, case
            compared += len(got)
        assert ex.restarts == 0
    assert compared > 200
