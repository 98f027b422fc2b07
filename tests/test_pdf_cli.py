"""`curation pdf parse`, and the router tools (`python -m tools.pdf_router`): train-router, align (from the
preference file the UI writes), degrade."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from curation.commands import pdf as cmd
from curation.stages.ingest.pdf.predictor import RouterModel, default_model
from curation.stages.ingest.pdf.preferences import Preference, append_preference
from tools import pdf_router

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "data" / "pdf_router" / "train_pages.jsonl"


def test_train_router_writes_a_model(tmp_path, capsys):
    small = tmp_path / "rows.jsonl"
    small.write_text("".join(ROWS.read_text().splitlines(keepends=True)[:40]))
    out = tmp_path / "m.json"
    assert pdf_router.main(["train-router", "--data", str(small), "--out", str(out), "--epochs", "60", "--no-cv"]) == 0
    m = RouterModel.from_dict(json.loads(out.read_text()))
    assert m.parsers == ["pdfium", "pypdf", "tesseract"] and m.costs["tesseract"] > m.costs["pdfium"]
    assert pdf_router.main(["train-router", "--data", str(tmp_path / "none.jsonl"), "--out", str(out)]) == 2
    assert m.expensive_cost and m.predict_seconds(np.zeros((2, len(m.features)))).shape == (2,)


def test_train_router_cost_only_keeps_the_accuracy_head(tmp_path, capsys):
    d = json.loads(default_model().read_text())
    d.pop("expensive_cost", None)
    out = tmp_path / "m.json"
    out.write_text(json.dumps(d))
    assert pdf_router.main(["train-router", "--cost-only", "--out", str(out)]) == 0
    got = json.loads(out.read_text())
    assert {k: v for k, v in got.items() if k != "expensive_cost"} == d
    assert got["expensive_cost"]["training"]["pages"] >= 100
    assert pdf_router.main(["train-router", "--cost-only", "--out", str(tmp_path / "missing.json")]) == 2


def test_align_from_ui_preferences(tmp_path, sample_dir, capsys):
    prefs = tmp_path / "labels" / "pdf_preferences.jsonl"
    pdf = str(sample_dir / "pdf" / "topology-hw-1.pdf")
    for page in (1, 2, 3):
        append_preference(prefs, Preference(pdf, page, "pypdf", "pdfium", "a", "tester"))
    append_preference(prefs, Preference("elstest-5p", 1, "pdfium", "tesseract", "neither", None))
    append_preference(prefs, Preference("unknown-doc", 1, "pdfium", "tesseract", "a", None))
    append_preference(prefs, Preference(pdf, 1, "pdfium", "nougat", "a", None))
    out = tmp_path / "aligned.json"
    rc = pdf_router.main(["align", "--preferences", str(prefs), "--pdf", str(sample_dir / "pdf"), "--model", str(default_model()),
                   "--out", str(out), "--epochs", "150"])
    assert rc == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out[: captured.out.rindex("}") + 1])
    assert report["preferences"] == 4 and report["pairs"] == 3 and report["neither"] == 1
    assert report["pairwise_accuracy_after"] == 1.0
    assert "unknown-doc" in captured.err and "no output for" in captured.err
    aligned = RouterModel.from_dict(json.loads(out.read_text()))
    assert aligned.training["alignment"]["pairs"] == 3


def test_parse_and_degrade(tmp_path, sample_dir, capsys):
    src = sample_dir / "pdf" / "topology-hw-1.pdf"
    out = tmp_path / "img.pdf"
    assert pdf_router.main(["degrade", str(src), "--kind", "image", "--pages", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert cmd.main(["parse", str(src), "--set", "alpha=0"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["decision"] == "kept" and len(row["pdf_pages_json"]) == 3
    assert cmd.main(["parse", str(src), "--set", "alpha=7"]) == 2
    assert cmd.main(["nope"]) == 2
