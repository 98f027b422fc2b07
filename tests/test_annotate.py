"""annotate building blocks without Spark: vectorised rules against plain-Python references, language id,
classifier, tokenizer, config, and the batch transform on hostile input."""

from __future__ import annotations

import json
import pickle
import random
import re
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from curation.stages.annotate import textops
from curation.stages.annotate.config import AnnotateConfig
from curation.stages.annotate.rules import rulesets
from curation.stages.annotate.rules.base import TextBatch
from curation.stages.annotate.rules.gopher_repetition import GopherRepetition, GopherRepetitionConfig
from curation.stages.annotate.stage import AnnotateTransform, signal_fields
from curation.stages.annotate.words import tokenize

ENGLISH = (
    "The history of the city goes back to the Roman period, when a small fort was built on the hill above the river. "
    "Over the following centuries the settlement grew into a market town with a church, a bridge and a busy harbour. "
    "Merchants from many countries came to trade wool, salt and timber, and some of them settled there for good.\n\n"
    "In the nineteenth century the railway arrived and the population doubled within thirty years. New factories were "
    "built along the canal, and the old town walls were taken down to make room for streets and houses. Today the "
    "city is known for its university, its museums and the festival that takes place every summer in the old square."
)
GERMAN = ("Die Geschichte der Stadt reicht bis in die Römerzeit zurück, als auf dem Hügel über dem Fluss ein kleines "
          "Kastell errichtet wurde. In den folgenden Jahrhunderten wuchs die Siedlung zu einer Marktstadt heran.")


def batch_of(texts: list, **cols) -> pa.RecordBatch:
    n = len(texts)
    data = {"text": pa.array(texts, pa.string()) if not isinstance(texts, pa.Array) else texts,
            "decision": ["kept"] * n, "reason": pa.nulls(n, pa.string()), "related_id": pa.nulls(n, pa.string()),
            "detail": pa.nulls(n, pa.string()), "token_count": pa.nulls(n, pa.int64())}
    data.update(cols)
    return pa.RecordBatch.from_pydict(data)


def fast_config(**changes) -> AnnotateConfig:
    cfg = AnnotateConfig()
    for k, v in changes.items():
        setattr(cfg, k, v)
    return cfg


# -- primitives against plain Python ------------------------------------------------------------------

def test_splitlines_matches_python():
    texts = ["a\nb", "a\n", "", "\n", "a\r\nb\rc\x0bd\u2028e", "x\n\ny\n\n", "only"]
    parts = textops.splitlines(pa.array(texts))
    got = [[] for _ in texts]
    for v, p in zip(parts.values.to_pylist(), parts.parents, strict=True):
        got[p].append(v)
    assert got == [t.splitlines() for t in texts]


def _find_duplicates(xs):
    seen, n, chars = set(), 0, 0
    for x in xs:
        if x in seen:
            n, chars = n + 1, chars + len(x)
        else:
            seen.add(x)
    return n, chars


def _random_doc(rng: random.Random) -> str:
    vocab = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]
    lines = []
    for _ in range(rng.randint(1, 12)):
        if lines and rng.random() < 0.3:
            lines.append(rng.choice(lines))
        else:
            lines.append(" ".join(rng.choice(vocab[: rng.randint(2, 8)]) for _ in range(rng.randint(1, 15))))
    return ("\n\n" if rng.random() < 0.5 else "\n").join(lines)


@pytest.mark.parametrize("dense_share", [0.0, 0.5, 1.0])  # n-gram keys for every position / candidates only
def test_repetition_signals_match_reference_on_random_documents(monkeypatch, dense_share):
    monkeypatch.setattr("curation.stages.annotate.rules.gopher_repetition.DENSE_SHARE", dense_share)
    rng = random.Random(7)
    texts = [_random_doc(rng) for _ in range(150)]
    vals = GopherRepetition(GopherRepetitionConfig()).compute(TextBatch(pa.array(texts)))
    for i, text in enumerate(texts):
        words = text.split()
        lines = re.split("\n+", text)
        paras = re.split(r"\n{2,}", text.strip())
        assert vals["dup_line_frac"][i] == pytest.approx(_find_duplicates(lines)[0] / len(lines))
        assert vals["dup_line_char_frac"][i] == pytest.approx(_find_duplicates(lines)[1] / len(text))
        assert vals["dup_para_frac"][i] == pytest.approx(_find_duplicates(paras)[0] / len(paras))
        for n in (2, 3, 4):
            grams = [" ".join(words[j:j + n]) for j in range(len(words) - n + 1)]
            if not grams:
                assert np.isnan(vals[f"top_{n}gram_char_frac"][i])
                continue
            top, count = Counter(grams).most_common(1)[0]
            assert vals[f"top_{n}gram_char_frac"][i] == pytest.approx(len(top) * count / len(text))
        for n in (5, 8):  # datatrove's greedy scan (find_all_duplicate)
            seen, chars, j = set(), 0, 0
            while j < len(words) - n + 1:
                g = "".join(words[j:j + n])
                if g in seen:
                    chars, j = chars + len(g), j + n
                else:
                    seen.add(g)
                    j += 1
            assert vals[f"dup_{n}gram_char_frac"][i] == pytest.approx(chars / len(text))


def test_tokenizer_splits_edge_punctuation_keeps_infix():
    parts = tokenize(pa.array(["Hello, world. It costs 3.14 or 1,000 (approx.)... there's", "", "e-mail"]))
    url = tokenize(pa.array(["See (https://example.com/a?b=1)."])).values.to_pylist()
    assert url == ["See", "(", "https://example.com/a?b=1", ")", "."]
    toks = [t.replace("\ue001", "'") for t in parts.values.to_pylist()]
    assert toks == ["Hello", ",", "world", ".", "It", "costs", "3.14", "or", "1,000", "(", "approx", ".", ")", "...",
                    "there", "'s", "e", "-", "mail"]
    assert parts.parents.tolist() == [0] * 16 + [2] * 3


# -- rule sets on real-looking text ---------------------------------------------------------------------

def test_clean_english_passes_every_rule_set_and_bullets_fail():
    bullets = "\n".join(f"- item number {i} of the shopping list" for i in range(80))
    tb = TextBatch(pa.array([ENGLISH * 2, bullets]))
    cfg = AnnotateConfig()
    for name, cls in rulesets().items():
        rs = cls(getattr(cfg, name))
        vals = rs.compute(tb)
        fails = rs.first_failure(vals, tb.n)
        if name != "gopher_repetition":  # ENGLISH*2 repeats itself on purpose
            assert fails[0] is None, (name, fails[0])
    gq = rulesets()["gopher_quality"](cfg.gopher_quality)
    fail = gq.first_failure(gq.compute(tb), 2)[1]
    assert fail.rule == "bullet_lines_frac" and "> max 0.9" in fail.detail()


def test_c4_rules():
    from curation.stages.annotate.rules.c4 import C4, C4Config

    texts = [ENGLISH, ENGLISH + "\nLorem ipsum dolor sit amet, consectetur.", ENGLISH + "\nvar x = {a: 1}; done here.",
             "Too short. Only two sentences here."]
    rs = C4(C4Config())
    vals = rs.compute(TextBatch(pa.array(texts)))
    fails = rs.first_failure(vals, len(texts))
    assert fails[0] is None
    assert [f.rule for f in fails[1:]] == ["lorem_ipsum", "curly_bracket", "sentences"]
    assert vals["sentences"][0] >= 5


def test_fineweb_list_page():
    from curation.stages.annotate.rules.fineweb import FineWeb, FineWebConfig

    menu = "\n".join(["Home", "About us", "Products", "Contact", "Login", "Cart"] * 5)
    rs = FineWeb(FineWebConfig())
    vals = rs.compute(TextBatch(pa.array([ENGLISH, menu])))
    fails = rs.first_failure(vals, 2)
    assert fails[0] is None and fails[1].rule == "line_punct_ratio"


# -- the batch transform -----------------------------------------------------------------------------

def _invalid_utf8_array() -> pa.Array:
    good, bad = ENGLISH.encode(), b"caf\xe9 \xff\xfe broken"
    offsets = np.array([0, len(good), len(good) + len(bad)], dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(good + bad)])


def test_transform_gives_every_row_an_outcome_on_hostile_input():
    rng = random.Random(3)
    binary = bytes(rng.randrange(256) for _ in range(5000)).decode("latin-1")
    long_run = "A" * 300_000  # no whitespace at all: BPE input is cut, never one 300k-byte word
    texts = [ENGLISH, "", "   \n  ", None, binary, GERMAN + "\n", long_run]
    out = AnnotateTransform(AnnotateConfig())(batch_of(texts))
    rows = out.to_pylist()
    assert len(rows) == len(texts)
    assert rows[0]["decision"] == "kept", rows[0]["reason"]
    assert [r["reason"] for r in rows[1:4]] == ["empty"] * 3
    assert rows[4]["decision"] == "dropped" and rows[4]["reason"].startswith("language:")
    assert rows[5]["reason"] == "language:de" and "0.65" in rows[5]["detail"]
    assert rows[6]["decision"] == "dropped" and 0 < rows[6]["token_count"] < 300_000
    assert rows[0]["language"] == "en" and rows[0]["language_score"] > 0.9
    assert 0.0 <= rows[0]["quality_score"] <= 1.0 and rows[1]["quality_score"] is None
    assert [r["word_count"] for r in rows] == [len((t or "").split()) for t in texts]  # str.split(): no
    for r in rows:  # empty words from leading/trailing whitespace
        assert r["decision"] in ("kept", "dropped", "quarantined")


@pytest.mark.heavy
def test_transform_handles_a_10mb_document():
    huge = (ENGLISH + "\n\n") * (10_000_000 // (len(ENGLISH) + 2))
    rows = AnnotateTransform(AnnotateConfig())(batch_of([huge, ENGLISH])).to_pylist()
    assert rows[0]["decision"] == "dropped" and rows[0]["reason"].startswith("gopher_repetition:")
    assert rows[0]["gopher_repetition__dup_para_frac"] > 0.99 and rows[0]["token_count"] > 1_000_000
    assert rows[1]["decision"] == "kept"


def test_transform_quarantines_invalid_utf8():
    out = AnnotateTransform(AnnotateConfig())(batch_of(_invalid_utf8_array()))
    rows = out.to_pylist()
    assert rows[0]["decision"] == "kept"
    assert rows[1]["decision"] == "quarantined" and rows[1]["reason"] == "invalid_utf8"


def test_annotate_only_modes_keep_everything_but_fill_columns():
    cfg = AnnotateConfig()
    cfg.language.mode = "annotate"
    for name in rulesets():
        getattr(cfg, name).mode = "annotate"
    out = AnnotateTransform(cfg)(batch_of([GERMAN, "- a\n- b"]))
    assert out.column("decision").to_pylist() == ["kept", "kept"]
    assert out.column("language").to_pylist()[0] == "de"
    assert out.column("gopher_quality__bullet_lines_frac").to_pylist()[1] == 1.0


def test_rows_dropped_earlier_stay_dropped():
    b = batch_of([ENGLISH], decision=["dropped"], reason=["earlier"])
    out = AnnotateTransform(AnnotateConfig())(b)
    assert out.column("reason").to_pylist() == ["earlier"]


def test_declared_signals_match_emitted_columns():
    out = AnnotateTransform(AnnotateConfig())(batch_of([ENGLISH]))
    declared = {f.name for f in signal_fields()}
    emitted = set(out.schema.names) - {"text", "decision", "reason", "related_id", "detail", "token_count",
                                       "language", "language_score"}
    assert emitted == declared
    for name in declared:
        if "__" in name:
            ruleset, rule = name.split("__")
            assert rule in {r.name for r in rulesets()[ruleset].rules}


# -- models --------------------------------------------------------------------------------------------

def test_token_counts_use_smollm2_bpe():
    from curation.text.tokenizer import token_counts

    counts = token_counts(["Hello world", "12345", "", None, "x" * 600])
    assert counts[:4].tolist() == [2, 5, 0, 0]  # digits are split one by one (SmolLM2 pre-tokenizer)
    assert 0 < counts[4] < 600


def test_fast_token_counts_equal_the_full_tokenizers_pipeline():
    """The regex pre-tokenizer + per-piece BPE path must count exactly what `tokenizers` itself counts."""
    pytest.importorskip("regex")
    from curation.text.tokenizer import load_tokenizer, piece_counter, token_counts

    rng = random.Random(5)
    alphabet = list("ab Z1 .,-'\n\t\r\x0b\x0c()\"/:") + [
        "'s", "'re", "'ll", "'D", "\u00a0", "\u2028", "\u2029", "\x1c", "\x1f", "\x85", "\u3000", "\u200b", "\u2009",
        "\u202f", "\u1680", "\ufeff", "\u00b2", "\u00bd", "\u2163", "\u0663", "\u0967", "\u00e9", "e\u0301",
        "\u4e2d\u6587", "\U0001f600", "\U0001d7d8", "  ", "\n\n", " \n ", "\u0416\u0438", "ing", " the"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    texts += [ENGLISH, GERMAN, "Price: 1,299.00 EUR (incl. 19% VAT) -- call +49 30 1234567!"]
    tok = load_tokenizer()
    want = [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]
    piece_counter().cache.clear()
    assert token_counts(texts).tolist() == want
    assert token_counts(texts).tolist() == want  # second time from the piece cache


def test_language_identifier_keep_scores():
    from curation.stages.annotate.langid import LanguageIdentifier

    langs, scores, keep = LanguageIdentifier().predict([ENGLISH, GERMAN, ""], keep=["en"])
    assert langs[:2] == ["en", "de"] and langs[2] is None
    assert keep[0] == pytest.approx(scores[0]) and keep[1] < 0.1 and np.isnan(keep[2])


def test_train_and_score_fasttext(tmp_path):
    from curation.text.classifier import FastTextScorer, train_fasttext

    rng = random.Random(0)
    sents = [t.strip() for t in ENGLISH.replace("\n", " ").split(". ") if t.strip()]
    prose = [". ".join(rng.sample(sents, 3)) + "." for _ in range(60)]
    vocab = ["buy", "cheap", "click", "login", "cart", "sale", "free", "now", "$$$", "win"]
    spam = [" ".join(rng.choice(vocab) for _ in range(rng.randint(8, 30))) for _ in range(60)]
    path = train_fasttext(prose, spam, tmp_path / "m.bin", epoch=10, dim=16, bucket=20_000)
    scorer = pickle.loads(pickle.dumps(FastTextScorer(path)))
    p = scorer.predict([prose[0], spam[0], "", None])
    assert p[0] > 0.5 > p[1], p
    assert np.isnan(p[2]) and np.isnan(p[3])
    with pytest.raises(ValueError):
        FastTextScorer(path, label="nope").predict(["x"])
    with pytest.raises(ValueError):
        train_fasttext([], spam, tmp_path / "x.bin")


def test_quality_command_train_and_errors(tmp_path, capsys):
    from curation.commands import quality

    pos, neg = tmp_path / "pos.jsonl", tmp_path / "neg.jsonl"
    pos.write_text("".join(json.dumps({"text": ENGLISH + f" {i}"}) + "\n" for i in range(30)) + "not json\n")
    neg.write_text("".join(json.dumps({"text": f"login cart sale {i} buy now"}) + "\n" for i in range(30)))
    model = tmp_path / "q.bin"
    rc = quality.main(["train", "--positive", str(pos), "--negative", str(neg), "--output", str(model),
                       "--no-quantize", "--dim", "8", "--bucket", "10000", "--epoch", "10"])
    assert rc == 0 and model.is_file()
    report = json.loads(capsys.readouterr().out)
    assert report["holdout"]["accuracy"] >= 0.8
    assert quality.main(["train", "--positive", str(tmp_path / "missing.jsonl"), "--negative", str(neg),
                         "--output", str(model)]) == 2
    assert quality.NAME == "quality" and quality.HELP


def test_shipped_model_separates_prose_from_listing():
    from curation.stages.annotate.config import default_quality_model
    from curation.text.classifier import FastTextScorer

    listing = "\n".join(f"Package: lib{i}\nVersion: 1.{i}-2\nDepends: libc6 (>= 2.{i})" for i in range(15))
    p = FastTextScorer(default_quality_model()).predict([ENGLISH, listing])
    assert p[0] > p[1]


# -- config ---------------------------------------------------------------------------------------------

def test_config_keys_and_errors(make_config):
    from curation.config import ConfigError

    cfg = make_config(**{"annotate.gopher_quality.min_word_count": 10, "annotate.language.keep": "[en, de]"})
    assert cfg.annotate.gopher_quality.min_word_count == 10 and cfg.annotate.language.keep == ["en", "de"]
    assert cfg.annotate.quality.min_score is None and cfg.annotate.language.min_score == 0.65
    with pytest.raises(ConfigError, match="rulesets"):
        make_config(**{"annotate.rulesets": "[gopher, c4]"})
    with pytest.raises(ConfigError, match="mode"):
        make_config(**{"annotate.c4.mode": "maybe"})
    with pytest.raises(ConfigError, match="model file not found"):
        make_config(**{"annotate.quality.model": "/nonexistent.bin"})
    with pytest.raises(ConfigError, match="max_dup_ngram_char_frac"):
        make_config(**{"annotate.gopher_repetition.max_dup_ngram_char_frac": "{'11': 0.1}"})


def test_thresholds_change_decisions_not_columns():
    base = AnnotateTransform(AnnotateConfig())(batch_of([ENGLISH]))
    cfg = AnnotateConfig()
    cfg.gopher_quality.min_word_count = 10_000
    strict = AnnotateTransform(cfg)(batch_of([ENGLISH]))
    assert strict.column("reason").to_pylist() == ["gopher_quality:word_count"]
    assert strict.column("gopher_quality__word_count").equals(base.column("gopher_quality__word_count"))
