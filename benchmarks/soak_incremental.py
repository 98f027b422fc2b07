"""Soak: many consecutive corpus batches with random SIGKILLs, checked against an uninterrupted replay.

    .venv/bin/python benchmarks/soak_incremental.py --batches 50 --kill-rate 0.3
    .venv/bin/python benchmarks/soak_incremental.py --batches 8            # a short run

Each tick lands one new JSONL file (fresh documents plus copies of earlier ones) and runs a batch in a child
process; with probability `--kill-rate` the child is killed with SIGKILL at a random commit-relevant point
(curation/engine/failpoints.py) and the next tick retries with whatever has landed since. At the end the
committed batches are replayed uninterrupted, with the same batch composition, into a second corpus: the two
must hold exactly the same documents (doc_id, source_id, text), and no text twice.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.corpus_batches import CONFIG, batch_in_child, committed_rows, distinct_docs, write_jsonl  # noqa: E402

POINTS = ["after_stage:read", "after_stage:normalize", "after_stage:dedup", "corpus:after_run",
          "corpus:after_version_file", "corpus:after_commit"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=50, help="files landed (one per tick)")
    ap.add_argument("--kill-rate", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    work = Path(a.work or tempfile.mkdtemp(prefix="soak_"))
    landing, corpus, config = work / "landing", work / "corpus", work / "c.yaml"
    landing.mkdir(parents=True)
    config.write_text(CONFIG)
    start = time.time()
    attempts = kills = 0
    written: list[dict] = []
    tick = 0
    while tick < a.batches or attempts == 0 or _pending(corpus, landing):
        if tick < a.batches:
            new = distinct_docs("d", tick * 10, 10)
            again = [{**d, "id": f"again{tick}-{d['id']}"} for d in rng.sample(written, min(3, len(written)))]
            write_jsonl(landing / f"f{tick:04d}.jsonl", new + again)
            written += new
            tick += 1
        point = rng.choice(POINTS) if rng.random() < a.kill_rate and tick <= a.batches else None
        rc, err = batch_in_child(corpus, [str(landing)], config, point)
        attempts += 1
        if point and rc == -9:
            kills += 1
        elif rc != 0:
            raise SystemExit(f"batch failed without a kill (rc {rc}):\n{err}")
    soak_s = time.time() - start
    manifest = json.loads((corpus / "manifest.json").read_text())
    # the uninterrupted replay: the same batch composition, in one process
    from curation.io.corpus import curate_batch

    replay = work / "replay"
    start = time.time()
    for b in manifest["batches"]:  # the same files (the same paths, so the same doc_ids), batch by batch
        curate_batch(b["inputs"], str(replay), str(config))
    replay_s = time.time() - start
    got = committed_rows(corpus)[1]
    want = committed_rows(replay)[1]
    same_text = sorted(r[2] for r in got) == sorted(r[2] for r in want)
    dup_texts = len(got) - len({r[2] for r in got})
    print(f"\nbatches committed {manifest['version']}, files {a.batches}, attempts {attempts}, kills {kills}, "
          f"documents {len(got)} ({len(written)} distinct written), duplicate texts {dup_texts}")
    identical = got == want
    print(f"soak {soak_s:.0f} s, uninterrupted replay {replay_s:.0f} s; identical to the replay (doc_id, source_id, "
          f"text): {identical}; same texts: {same_text}")
    ok = identical and dup_texts == 0 and len(got) == len(written)
    return 0 if ok else 1


def _pending(corpus: Path, landing: Path) -> bool:
    from curation.io.corpus import committed, new_files

    return bool(new_files([str(landing)], committed(str(corpus))["processed"]))


if __name__ == "__main__":
    sys.exit(main())
