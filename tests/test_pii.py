"""Personal data (annotate.pii), C4 line cleaning (annotate.c4.lines) and bad words (annotate.badwords):
detectors on real text with planted PII and look-alikes, redaction through the batch transform, and on
Spark that redaction happens before dedup (and shows in the UI's document view)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from curation.engine.options import ConfigError
from curation.stages.annotate.config import AnnotateConfig
from curation.stages.annotate.pii import DEFAULT_TOKENS, Detector, iban_ok, luhn_ok, redact
from curation.stages.annotate.rules.badwords import BadWords, BadWordsConfig
from curation.stages.annotate.rules.base import TextBatch
from curation.stages.annotate.rules.c4 import C4, C4Config
from curation.stages.annotate.stage import AnnotateTransform
from tools import pii_planted

ROOT = Path(__file__).resolve().parents[1]
ALL = Detector(kinds=("email", "ip", "iban", "card", "national_id", "phone"), national_ids=("US", "GB"))
ENGLISH = ("The river flows through the old town, past the market square and the cathedral. In the summer the "
           "banks are full of people who come to swim, to fish and to watch the boats. The town has grown slowly "
           "over the centuries, and many of its houses are more than three hundred years old. Visitors often say "
           "that the best time to see it is early in the morning, when the streets are still quiet and the light "
           "is soft. There is a small museum near the bridge that tells the story of the people who lived here.")


def batch_of(texts: list, **cols) -> pa.RecordBatch:
    n = len(texts)
    data = {"text": pa.array(texts, pa.string()), "decision": ["kept"] * n, "reason": pa.nulls(n, pa.string()),
            "related_id": pa.nulls(n, pa.string()), "detail": pa.nulls(n, pa.string()),
            "token_count": pa.nulls(n, pa.int64())}
    data.update(cols)
    return pa.RecordBatch.from_pydict(data)


def fast_config(**pii) -> AnnotateConfig:
    """Rule sets in annotate mode, no language id or quality model: only what the test looks at decides."""
    cfg = AnnotateConfig()
    cfg.language.mode = "off"
    cfg.quality.enabled = False
    cfg.tokenizer = "approx"
    for name in cfg.rulesets:
        getattr(cfg, name).mode = "annotate"
    cfg.pii.mode = "redact"
    for k, v in pii.items():
        setattr(cfg.pii, k, v)
    return cfg


# -- detectors ----------------------------------------------------------------------------------------------

def test_planted_pii_in_real_text_has_precision_and_recall_of_at_least_095_per_kind():
    P = pii_planted
    docs = P.generate(600, seed=7)
    found = ALL.scan(pa.array([d.text for d in docs], pa.string()))
    r = P.evaluate(docs, found)
    for kind in P.KINDS:
        s = r["kinds"][kind]
        assert s["tp"] + s["fn"] >= 150, (kind, s)
        assert s["precision"] >= 0.95 and s["recall"] >= 0.95, (kind, s, r["fp_examples"][:5])
    assert r["decoy_hits"] == []
    assert r["natural_hits"] > 0  # the sample PDFs' own addresses are found (reviewed in natural.json)


@pytest.mark.parametrize("kind,value", [
    ("email", "anna.smith@gmail.com"), ("email", "J.Migchielsen@elsevier.com"), ("email", "first+tag@mail.example.org"),
    ("ip", "8.8.8.8"), ("ip", "81.169.145.92"), ("ip", "2606:4700:4700::1111"), ("ip", "2a00:1450:4001:82b::200e"),
    ("phone", "(415) 555-2671"), ("phone", "415-555-2671"), ("phone", "+44 20 7946 0958"), ("phone", "020 7946 0958"),
    ("phone", "030 12345678"), ("phone", "+49 (0)30 12345678"), ("phone", "1-800-555-0199"), ("phone", "06 12 34 56 78"), ("phone", "+81 3-1234-5678"),
    ("card", "4111 1111 1111 1111"), ("card", "5555-5555-5555-4444"), ("card", "378282246310005"),
    ("card", "3782 822463 10005"), ("iban", "DE89 3704 0044 0532 0130 00"), ("iban", "GB82WEST12345698765432"),
    ("iban", "FR14 2004 1010 0505 0001 3M02 606"), ("national_id", "536-90-4399"), ("national_id", "AB 12 34 56 C"),
])
def test_each_kind_is_found_with_its_exact_span(kind, value):
    from curation.stages.annotate.pii import kind_of

    text = f"For the record, {value}, as discussed."
    spans = ALL.scan_text(text)
    assert [(text[a:b], kind_of(k)) for a, b, k in spans] == [(value, kind)]


@pytest.mark.parametrize("text", [
    "Upgrade to version 1.2.3.4 before installing.", "Fixed in v2.10.4.1.", "Firmware 4.8.0.12 is required.",
    "See section 3.1.2.4 for details.", "The OID is 1.3.6.1.4.1.311.", "The meeting was held on 2021-03-15 12:30:45.",
    "Updated 15.03.2021", "Deadline: 03/15/2021.", "ISBN 978-3-16-148410-0", "ISBN 0-306-40615-2",
    "The router is at 192.168.1.1.", "Set the gateway to 10.0.0.138", "172.20.4.1 and 127.0.0.1 and 169.254.10.3",
    "Docs use 192.0.2.44, 198.51.100.7 and 203.0.113.9.", "CGNAT 100.64.12.1", "fe80::1ff:fe23:4567:890a",
    "2001:db8::ff00:42:8329 and ::1", "Order #4532015112830366 has shipped.", "Invoice no. 2023-000123",
    "Tracking number: 1Z999AA10123456784", "Card number 4111 1111 1111 1112, expiry 08/27.",
    "IBAN: DE88 3704 0044 0532 0130 00", "IBAN GB83WEST12345698765432", "SSN 000-12-3456", "SSN 666-45-6789",
    "SSN 912-34-5678", "SSN 123-00-4567", "SSN 123-45-0000", "The city had 2 016 000 inhabitants.",
    "The measured value was 0.284781 (103).", "<img src=\"/static/logo@2x.png\">", "Portland, OR 97208-2311",
    "Price: $1,234,567.89", "at 12:30:45 on std::vector<int>", "a bare run 20210315 or 3412567890",
    "coordinates 48.8566, 2.3522", "ssh admin@10.0.0.1 -p 22",
])
def test_look_alikes_are_left_alone(text):
    assert ALL.scan_text(text) == []


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE89370400440532013001")
    assert not iban_ok("DE8937040044053201300")  # one character short for Germany


def test_national_ids_and_presidio_are_off_by_default():
    cfg = AnnotateConfig()
    assert "national_id" not in cfg.pii.kinds and "presidio" not in cfg.pii.kinds
    d = Detector(tuple(cfg.pii.kinds))
    assert d.scan_text("SSN 536-90-4399") == []


# -- redaction through the annotate transform ---------------------------------------------------------------

def test_redaction_rewrites_the_text_and_everything_after_sees_it():
    text = ENGLISH + " Write to anna.smith@gmail.com or call +44 20 7946 0958. Our server is 81.169.145.92."
    out = AnnotateTransform(fast_config())(batch_of([text, ENGLISH, ""])).to_pylist()
    want = ENGLISH + " Write to <EMAIL_ADDRESS> or call <PHONE_NUMBER>. Our server is <IP_ADDRESS>."
    assert out[0]["text"] == want
    assert out[1]["text"] == ENGLISH and out[2]["text"] == ""
    assert (out[0]["pii__email"], out[0]["pii__phone"], out[0]["pii__ip"], out[0]["pii__spans"]) == (1, 1, 1, 3)
    assert out[0]["pii__card"] == 0 and out[0]["pii__national_id"] is None  # not looked for: null, not 0
    assert out[0]["pii__density"] == pytest.approx(3 * 1000 / len(text.split()))
    assert out[0]["word_count"] == len(want.split())  # counted on the redacted text
    assert out[1]["pii__spans"] == 0 and out[2]["pii__spans"] is None
    assert [r["decision"] for r in out] == ["kept", "kept", "dropped"]


def test_redaction_tokens_are_configurable_and_token_counts_see_the_new_text():
    tokens = dict(DEFAULT_TOKENS, email="[email]")
    cfg = fast_config(tokens=tokens)
    cfg.tokenizer = "smollm2"
    text = ENGLISH + " " + " ".join(f"user{i}.name{i}@example-mail.de" for i in range(40))
    out = AnnotateTransform(cfg)(batch_of([text, ENGLISH + " " + " ".join(["[email]"] * 40)])).to_pylist()
    assert out[0]["text"].count("[email]") == 40 and "@" not in out[0]["text"]
    assert out[0]["token_count"] == out[1]["token_count"]  # same text after redaction, same tokens
    assert redact("a b@c.de", [(2, 8, "email")], tokens) == "a [email]"


def test_annotate_mode_counts_only_and_drop_mode_drops_dense_documents():
    text = ENGLISH + " Contact anna.smith@gmail.com."
    dense = "Contacts: " + ", ".join(f"person{i}@firm.com" for i in range(30))
    out = AnnotateTransform(fast_config(mode="annotate"))(batch_of([text])).to_pylist()
    assert out[0]["text"] == text and out[0]["pii__email"] == 1 and out[0]["decision"] == "kept"
    out = AnnotateTransform(fast_config(mode="drop", max_pii_density=50.0))(batch_of([text, dense])).to_pylist()
    assert out[0]["decision"] == "kept" and out[0]["text"] == text
    assert out[1]["decision"] == "dropped" and out[1]["reason"] == "pii:density" and "> max 50" in out[1]["detail"]
    out = AnnotateTransform(fast_config(max_pii_density=50.0))(batch_of([dense])).to_pylist()  # redact drops too
    assert out[0]["reason"] == "pii:density" and "<EMAIL_ADDRESS>" in out[0]["text"]
    out = AnnotateTransform(fast_config(mode="off"))(batch_of([text])).to_pylist()
    assert out[0]["text"] == text and out[0].get("pii__email") is None  # no column: null once conformed


def test_config_checks(make_config):
    assert make_config().annotate.pii.mode == "redact"
    with pytest.raises(ConfigError, match="kinds"):
        make_config(**{"annotate.pii.kinds": "[email, passport]"})
    with pytest.raises(ConfigError, match="max_pii_density"):
        make_config(**{"annotate.pii.mode": "drop"})
    with pytest.raises(ConfigError, match="phone_regions"):
        make_config(**{"annotate.pii.phone_regions": "[US, XX]"})
    with pytest.raises(ConfigError, match="national_ids"):
        make_config(**{"annotate.pii.national_ids": "[FR]"})
    cfg = make_config(**{"annotate.c4.lines": "off", "annotate.badwords.mode": "drop"})
    assert cfg.annotate.c4.lines == "off"


# -- C4 line cleaning ---------------------------------------------------------------------------------------

def _real_page() -> str:
    """The main text of a real crawled page (the first long one of the sample WARC), plus the boilerplate
    lines C4 removes, so every line rule is exercised on real surroundings."""
    pytest.importorskip("resiliparse")
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from warcio.archiveiterator import ArchiveIterator

    with open(ROOT / "sample_data" / "warc" / "resiliparse_cc-main-2020-34_sample.warc.gz", "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type != "response":
                continue
            body = rec.content_stream().read()
            text = extract_plain_text(bytes_to_str(body, detect_encoding(body)), main_content=False)
            if len(text.splitlines()) >= 40 and sum(ln.rstrip().endswith(".") for ln in text.splitlines()) >= 5:
                return (text + "\nPlease enable JavaScript to view the comments powered by Disqus.\n"
                        "This website uses cookies to improve your experience. Read our privacy policy.\n")
    raise AssertionError("no long page in the sample WARC")


def test_c4_line_cleaning_on_a_real_page():
    page = _real_page()
    cfg = C4Config(lines="remove", require_terminal_punct=True)
    rw = C4(cfg).rewrite(TextBatch(pa.array([page, ENGLISH])))
    new = rw.texts[0].as_py()
    assert rw.changed.tolist() == [True, False] and rw.texts[1].as_py() == ENGLISH
    before = [ln for ln in page.splitlines() if ln.strip()]
    after = [ln for ln in new.splitlines() if ln.strip()]
    assert 0 < len(after) < len(before)
    assert rw.values["lines_removed"][0] == len(before) - len(after)
    it = iter(before)
    assert all(any(ln == b for b in it) for ln in after)  # kept lines, unchanged, in their order
    for ln in after:
        s = ln.strip()
        low = s.lower()
        if "lorem ipsum" in low or "{" in s:
            continue  # page rules (c4:lorem_ipsum, c4:curly_bracket) decide these, as in C4
        assert s.endswith((".", "?", "!", '"', "'")) and not s.endswith("...") and len(s.split()) >= 3
        assert "javascript" not in low and "privacy policy" not in low and "uses cookies" not in low
    assert "\n\n\n" not in new
    # annotate only counts; the same count
    vals = C4(C4Config(lines="annotate", require_terminal_punct=True)).compute(TextBatch(pa.array([page])))
    assert vals["lines_removed"][0] == rw.values["lines_removed"][0]
    assert C4(C4Config(lines="off")).compute(TextBatch(pa.array([page])))["lines_removed"][0] != 0  # NaN


def test_c4_line_removal_through_the_transform():
    cfg = fast_config(mode="off")
    cfg.c4.lines = "remove"
    nav = "Home\nAbout us\nShop\nContact"
    out = AnnotateTransform(cfg)(batch_of([nav + "\n\n" + ENGLISH, nav, ENGLISH])).to_pylist()
    assert out[0]["text"] == ENGLISH and out[0]["c4__lines_removed"] == 4
    assert out[0]["word_count"] == len(ENGLISH.split()) and out[0]["decision"] == "kept"
    assert out[1]["decision"] == "dropped" and out[1]["reason"] == "c4:lines_removed" and out[1]["text"] == nav
    assert out[2]["text"] == ENGLISH and out[2]["c4__lines_removed"] == 0


# -- bad words ----------------------------------------------------------------------------------------------

def test_bad_words_per_language_annotate_and_drop():
    texts = [ENGLISH + " What an asshole.", ENGLISH + " The analysis of anal fins.", "他妈的 这是一个例子",
             ENGLISH, "Das ist Scheiße, sagte er.", "no language"]
    tb = TextBatch(pa.array(texts), ["en", "en", "zh", "en", "de", None])
    vals = BadWords(BadWordsConfig()).compute(tb)["words"]
    assert vals[:5].tolist() == [1, 1, 1, 0, 1] and vals[5] != vals[5]  # NaN: no language, no list
    assert BadWords(BadWordsConfig(languages=["de"])).compute(tb)["words"][0] != 0  # en not used: NaN
    cfg = fast_config(mode="off")
    cfg.badwords.mode = "drop"
    out = AnnotateTransform(cfg)(batch_of(texts[:2] + [ENGLISH], language=["en", "en", "en"])).to_pylist()
    assert [r["decision"] for r in out] == ["dropped", "dropped", "kept"]
    assert out[0]["reason"] == "badwords:words" and out[0]["badwords__words"] == 1


def test_bad_word_lists_ship_with_their_licence():
    from curation import resources

    folder = resources.files("badwords")
    assert "Creative Commons" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert "CC BY 4.0" in (folder / "README.md").read_text(encoding="utf-8")
    assert len((folder / "en.txt").read_text(encoding="utf-8").splitlines()) > 300


# -- on Spark: redaction before dedup, and the UI --------------------------------------------------------------

@pytest.mark.spark
def test_redaction_happens_before_dedup_and_shows_in_the_document_view(spark, tmp_path):
    from curation.config import load_config
    from curation.engine.runner import run_pipeline

    inp = tmp_path / "in" / "docs.jsonl"
    inp.parent.mkdir()
    rows = [{"id": "a", "text": ENGLISH + " For questions, write to anna.smith@gmail.com and we will answer."},
            {"id": "b", "text": ENGLISH + " For questions, write to j.doe@posteo.net and we will answer."},
            {"id": "c", "text": ENGLISH + " For questions, ask at the desk and we will answer."}]
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = load_config(None, [f"output.dir={tmp_path / 'run'}", "spark.progress=false", "annotate.quality.enabled=false",
                             "annotate.tokenizer=approx", "dedup.detailed_stats=false"])
    manifest = run_pipeline(cfg, stages=["annotate", "dedup"], inputs=[str(inp.parent)], spark=spark)
    annotate, dedup = manifest["stages"][-2], manifest["stages"][-1]
    assert annotate["docs"]["kept"] == 3
    ledger = {r["source_id"]: r for r in ds.dataset(tmp_path / "run" / dedup["ledger"]).to_table().to_pylist()}
    assert sorted(r["decision"] for r in (ledger["a"], ledger["b"])) == ["dropped", "kept"]
    dropped = ledger["a"] if ledger["a"]["decision"] == "dropped" else ledger["b"]
    assert dropped["reason"] == "exact_duplicate"
    assert ledger["c"]["reason"] != "exact_duplicate"  # differs in more than personal data: near duplicate at most
    docs = ds.dataset(tmp_path / "run" / "documents").to_table().to_pylist()
    kept = next(d for d in docs if d["source_id"] in ("a", "b"))
    assert "<EMAIL_ADDRESS>" in kept["text"] and "@" not in kept["text"] and kept["pii__email"] == 1

    pytest.importorskip("fastapi")
    pytest.importorskip("duckdb")
    from fastapi.testclient import TestClient

    from curation.ui.app import create_app

    client = TestClient(create_app([str(tmp_path / "run")]), base_url="http://127.0.0.1")
    page = client.get("/run/run/doc", params={"id": kept["doc_id"]})
    assert page.status_code == 200, page.text[:500]
    assert "Personal data: 1 email" in page.text and "(redacted" in page.text
    assert "&lt;EMAIL_ADDRESS&gt;" in page.text and "pii__email" in page.text
