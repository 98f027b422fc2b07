"""Web ingestion units: framing, HTTP, charsets, blocklist, extractors, time limit, size limits."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from curation import schema as S
from curation.stages.ingest.config import IngestConfig
from curation.stages.ingest.web.blocklist import UrlBlocklist
from curation.stages.ingest.web.charset import decode_html
from curation.stages.ingest.web.documents import read_web_file
from curation.stages.ingest.web.extract import boilerplate_score, extract, resiliparse_text
from curation.stages.ingest.web.http import dechunk, parse_response
from curation.stages.ingest.web.sandbox import Extractor, ExtractTimeout

ARTICLE = ("<html><head><title>T</title></head><body><nav><a href='/'>Home</a> <a href='/x'>News</a></nav>"
           "<article><h1>A real headline about rivers</h1>"
           + "".join(f"<p>Paragraph {i} explains how the river carries sediment downstream over many years.</p>"
                     for i in range(12))
           + "</article><footer>Copyright 2024</footer></body></html>")


def warc_record(rtype: str, url: str, block: bytes, extra: str = "") -> bytes:
    head = (f"WARC/1.0\r\nWARC-Type: {rtype}\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
            f"WARC-Date: 2024-05-18T01:58:10Z\r\nWARC-Target-URI: {url}\r\n{extra}"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(block)}\r\n\r\n")
    return head.encode() + block + b"\r\n\r\n"


def http(body: bytes, ctype: str = "text/html; charset=utf-8", status: str = "200 OK", extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n{extra}\r\n".encode() + body


def rows_of(path: Path, **cfg) -> list[dict]:
    config = IngestConfig(**{"extract_timeout_s": 0, **cfg})
    return pa.Table.from_batches(list(read_web_file(str(path), config))).to_pylist()


def write_gz_members(path: Path, records: list[bytes]) -> None:
    path.write_bytes(b"".join(gzip.compress(r) for r in records))


def test_real_warcs_every_record_accounted(ext_dir: Path) -> None:
    expected = {  # record counts published with the files (README of sample_data_ext)
        "resiliparse_cc-main-2020-34_sample.warc.gz": (50, 16),
        "resiliparse_clueweb09-quirk.warc.gz": (30, 29),
        "cc_whirlwind/whirlwind.warc.gz": (4, 1),
        "cc_whirlwind/whirlwind.warc.wet.gz": (2, 1),
        "warcio_edge_cases/example-iana.org-chunked.warc": (3, 1),
        "warcio_edge_cases/example.arc.gz": (2, 1),
    }
    for name, (records, pages) in expected.items():
        rows = rows_of(ext_dir / "warc" / name)
        assert len(rows) == records, name
        kept = [r for r in rows if r["decision"] == S.KEPT]
        assert len(kept) == pages, name
        for r in kept:
            assert r["text"] and r["url"] and r["crawl_date"] is not None and r["domain"]
            assert r["token_count"] > 0
        assert all(r["reason"] == "non_response" for r in rows if r["decision"] != S.KEPT), name


def test_whirlwind_text_matches_common_crawl_wet(ext_dir: Path) -> None:
    warc = [r for r in rows_of(ext_dir / "warc/cc_whirlwind/whirlwind.warc.gz") if r["decision"] == S.KEPT][0]
    wet = [r for r in rows_of(ext_dir / "warc/cc_whirlwind/whirlwind.warc.wet.gz") if r["decision"] == S.KEPT][0]
    assert warc["url"] == wet["url"] == "https://an.wikipedia.org/wiki/Escopete"
    assert warc["source_type"] == "warc" and wet["source_type"] == "wet"
    assert "Escopete" in warc["text"] and warc["html_extractor"] == "resiliparse"
    # Main content only: much shorter than CC's full-page WET text, and its words are in it.
    words = set(warc["text"].split())
    assert len(words & set(wet["text"].split())) > 0.6 * len(words)


def test_clueweb_euc_jp_declared_gzip_but_stored_plain(ext_dir: Path) -> None:
    rows = [r for r in rows_of(ext_dir / "warc/resiliparse_clueweb09-quirk.warc.gz") if r["decision"] == S.KEPT]
    assert rows and all(r["html_charset"] == "euc_jp" for r in rows)
    assert "ヘッドポーター" in rows[0]["text"]


def test_non_html_http_error_blocklist_pdf_and_empty(tmp_path: Path) -> None:
    p = tmp_path / "mixed.warc.gz"
    write_gz_members(p, [
        warc_record("response", "http://a.example/page", http(ARTICLE.encode())),
        warc_record("response", "http://a.example/img.png", http(b"\x89PNG....", "image/png")),
        warc_record("response", "http://a.example/missing", http(b"<html>gone</html>", status="404 Not Found")),
        warc_record("response", "http://ads.spam.test/x", http(ARTICLE.encode())),
        warc_record("response", "http://a.example/doc.pdf", http(b"%PDF-1.4 fake", "application/pdf")),
        warc_record("response", "http://a.example/empty", http(b"<html><body></body></html>")),
        warc_record("request", "http://a.example/page", b"GET / HTTP/1.1\r\n\r\n"),
    ])
    rows = rows_of(p, url_blocklist=["spam.test"])
    reasons = [r["reason"] for r in rows]
    assert reasons == [None, "not_html", "http_status", "blocklisted_url", "pdf", "empty_extraction", "non_response"]
    assert rows[0]["decision"] == S.KEPT and "sediment" in rows[0]["text"] and "Copyright" not in rows[0]["text"]
    assert rows[4]["pdf_content"] == b"%PDF-1.4 fake"
    assert rows[2]["http_status"] == 404


def test_charset_header_meta_detection() -> None:
    assert decode_html("café".encode(), "iso-8859-1")[1:] == ("utf-8", "utf8")  # wrong server default
    text, codec, source = decode_html(b'<meta charset="windows-1251">' + "Привет мир".encode("cp1251"))
    assert "Привет" in text and source == "meta"
    assert decode_html("Grüße aus Köln, schöne Straße".encode("cp1252") * 20)[2] == "detected"
    assert decode_html(b"\xef\xbb\xbfhi")[:3] == ("hi", "utf-8", "bom")


def test_http_chunked_and_gzip() -> None:
    assert dechunk(b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n") == (b"Wikipedia", None)
    body = gzip.compress(b"<html>x</html>")
    resp = parse_response(http(body, extra="Content-Encoding: gzip\r\n"), 1 << 20)
    assert resp.body == b"<html>x</html>" and resp.status == 200 and resp.charset == "utf-8"


def test_http_brotli_bounded_and_damaged() -> None:
    brotli = pytest.importorskip("brotli")
    page = b"<html><body>" + b"<p>brotli encoded words</p>" * 4000 + b"</body></html>"
    body = brotli.compress(page)
    assert parse_response(http(body, extra="Content-Encoding: br\r\n"), 1 << 20).body == page
    small = parse_response(http(body, extra="Content-Encoding: br\r\n"), 1000)  # a bomb stops at the limit
    assert small.problem == "too_large" and len(small.body) == 1000
    for bad in (body[: len(body) // 2], b"not brotli at all"):
        assert parse_response(http(bad, extra="Content-Encoding: br\r\n"), 1 << 20).problem == "bad_content_encoding"


def test_blocklist_domains_and_regex(tmp_path: Path) -> None:
    f = tmp_path / "block.txt"
    f.write_text("# comment\nbad.org\n")
    bl = UrlBlocklist(["re:/casino/"], str(f))
    assert bl.match("https://www.bad.org/a") == "bad.org"
    assert bl.match("https://notbad.org/a") is None
    assert bl.match("http://x.com/casino/1").startswith("re:")
    with pytest.raises(ValueError):
        IngestConfig(url_blocklist=["re:("]).validate()


def test_extractors_and_router() -> None:
    fast = extract(ARTICLE, "resiliparse")
    acc = extract(ARTICLE, "trafilatura")
    assert "sediment" in fast.text and "sediment" in acc.text
    menu = "<html><body>" + "".join(f"<div><a href='/{i}'>Item {i}</a></div>" for i in range(200)) + "</body></html>"
    assert boilerplate_score("Home\nNews\nSport\n", 50_000) == 1.0
    assert boilerplate_score("A long sentence with many words in it, as articles have.\n" * 5, 5000) == 0.0
    routed = extract(menu, "router", router_threshold=0.35)
    assert routed.route_score is not None and routed.route_score > 0.35


def test_time_limit_quarantines_and_recovers(tmp_path: Path) -> None:
    big = "<html><body>" + "<div><p>word " * 40000 + "</body></html>"
    with Extractor("trafilatura", timeout_s=0.001, router_threshold=0.35) as ex:
        with pytest.raises(ExtractTimeout):
            ex(big)
        ex.timeout_s = 30
        assert "sediment" in ex(ARTICLE).text  # a fresh worker serves the next page
        assert ex.restarts == 1
    p = tmp_path / "slow.warc.gz"
    write_gz_members(p, [warc_record("response", "http://s.example/", http(big.encode())),
                         warc_record("response", "http://t.example/", http(ARTICLE.encode()))])
    rows = rows_of(p, extract_timeout_s=0.001, extractor="trafilatura")
    assert rows[0]["reason"] == "extract_timeout" and rows[0]["decision"] == S.QUARANTINED
    assert len(rows) == 2


def test_huge_page_and_corrupt_file(tmp_path: Path) -> None:
    huge = b"<html><body>" + b"<p>filler text</p>" * (50_000_000 // 18) + b"</body></html>"
    p = tmp_path / "huge.warc"
    p.write_bytes(warc_record("response", "http://h.example/", http(huge))
                  + warc_record("response", "http://ok.example/", http(ARTICLE.encode())))
    rows = rows_of(p)
    assert [r["reason"] for r in rows] == ["too_large", None]
    garbage = tmp_path / "garbage.warc.gz"
    garbage.write_bytes(b"\x1f\x8b\x08" + bytes(range(256)) * 10)
    rows = rows_of(garbage)
    assert len(rows) == 1 and rows[0]["decision"] == S.QUARANTINED and rows[0]["reason"] == "corrupt_gzip"
    assert rows_of(tmp_path / "missing.warc")[0]["reason"] == "read_error"


def test_html_files(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(ARTICLE)
    (tmp_path / "b.html.gz").write_bytes(gzip.compress(ARTICLE.encode("utf-16")))
    a = rows_of(tmp_path / "a.html")
    b = rows_of(tmp_path / "b.html.gz")
    assert a[0]["source_type"] == "html" and a[0]["source_id"] == str(tmp_path / "a.html")
    assert "sediment" in a[0]["text"] and "sediment" in b[0]["text"] and b[0]["html_charset_source"] == "bom"


def test_router_budget_bounds_reextraction() -> None:
    from curation.stages.ingest.web.sandbox import choose_for_budget

    scores = [0.9, 0.01, 0.5, None, 0.7, 0.2, 0.03, 0.8, 0.6, 0.4]
    chosen, credit = choose_for_budget(scores, threshold=0.05, budget=0.2, credit=0.0)
    assert chosen == [0, 7] and credit == pytest.approx(0.0)  # the two worst of ten
    chosen, credit = choose_for_budget([0.01] * 10, threshold=0.05, budget=0.2, credit=0.0)
    assert chosen == [] and credit == pytest.approx(2.0)  # clean pages: credit carried, not spent
    chosen, _ = choose_for_budget([0.9] * 10, 0.05, 0.2, credit)
    assert len(chosen) == 4
    chosen, credit = choose_for_budget([1.0], 0.05, 0.2, 0.0)  # nothing extracted from a big page: always
    assert chosen == [0] and credit < 0
    nav = "".join(f"<div><a href='/{i}'>Menu entry {i}</a></div>" for i in range(40))
    noisy = "<html><body><div>" + nav + "</div>" + ARTICLE[ARTICLE.index("<article>"):]
    with Extractor("router", timeout_s=0, router_threshold=0.05, router_budget=0.5) as ex:
        out = ex.run_window([(ARTICLE, None), (noisy, None)])
    assert out[0].extractor == "resiliparse" and out[0].route_score < 0.05  # clean page: not eligible
    assert "Menu entry" in resiliparse_text(noisy)  # the fast extractor let the navigation through ...
    assert out[1].extractor == "trafilatura" and out[1].route_score > 0.05
    assert "sediment" in out[1].text and "Menu entry" not in out[1].text  # ... the router repaired it


def test_fast_extractor_skips_page_furniture_but_never_the_whole_article() -> None:
    body = ARTICLE[ARTICLE.index("<article>"):ARTICLE.index("</article>")]
    furniture = ("<figure><img src='r.jpg'><div class='image-caption'>Photo: Jane Roe, Agency</div></figure>"
                 "<div class='share-buttons'>Share this story on Facebook Twitter Email</div>"
                 "<aside class='related-stories'><p>Another story about a completely different topic today.</p></aside>"
                 "<div class='newsletter-signup'>Get our free newsletter delivered every single morning.</div>")
    text = resiliparse_text(f"<html><body class='social-theme'>{body}{furniture}</article></body></html>")
    assert "sediment" in text and text.count("Paragraph") == 12  # a matching <body> class is not a skip
    for gone in ("Jane Roe", "Facebook", "different topic", "newsletter"):
        assert gone not in text
    # A wrapper around the whole article carrying such a class would skip everything: extracted without the list.
    wrapped = f"<html><body><div class='social-article-wrapper'>{body}</article></div></body></html>"
    assert resiliparse_text(wrapped).count("Paragraph") == 12


def test_unsupported_file_damaged_first_member_and_crawler_truncation(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("just some notes, not an archive\n")
    rows = rows_of(notes)
    assert len(rows) == 1 and rows[0]["reason"] == "unsupported_format"
    p = tmp_path / "damaged.warc.gz"
    write_gz_members(p, [warc_record("response", f"http://d{i}.example/", http(ARTICLE.encode())) for i in range(3)])
    data = bytearray(p.read_bytes())
    data[0] ^= 0xFF  # the first member's gzip header
    p.write_bytes(bytes(data))
    rows = rows_of(p)
    assert [r["decision"] for r in rows] == [S.QUARANTINED, S.KEPT, S.KEPT]
    t = tmp_path / "trunc.warc.gz"
    write_gz_members(t, [warc_record("response", "http://t.example/", http(ARTICLE.encode()[:900]),
                                     extra="WARC-Truncated: length\r\n")])
    row = rows_of(t)[0]
    assert row["decision"] == S.KEPT and "WARC-Truncated" in row["detail"]


def test_whole_file_gzip_and_truncation(tmp_path: Path) -> None:
    import random

    rng = random.Random(5)
    pages = [ARTICLE.replace("</article>", "<p>" + " ".join(f"w{rng.getrandbits(40):x}" for _ in range(400))
                             + "</p></article>") for _ in range(5)]  # distinct pages: compression stays proportional
    records = [warc_record("response", f"http://w{i}.example/", http(page.encode())) for i, page in enumerate(pages)]
    p = tmp_path / "whole.warc.gz"
    p.write_bytes(gzip.compress(b"".join(records)))  # one gzip member for the whole file
    rows = rows_of(p)
    assert [r["decision"] for r in rows] == [S.KEPT] * 5
    assert len({r["source_id"] for r in rows}) == 5
    data = p.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    rows = rows_of(cut)
    assert rows[-1]["decision"] == S.QUARANTINED and rows[-1]["reason"] == "truncated_record"
    assert all(r["decision"] == S.KEPT for r in rows[:-1]) and len(rows) >= 2
    plain = tmp_path / "plain.warc"
    plain.write_bytes(b"".join(records))
    flipped = bytearray(plain.read_bytes())
    i = flipped.index(b"Content-Length: ", len(records[0]) + 10) + len(b"Content-Length: ")
    flipped[i] = ord("9")  # second record's length now runs into the third: it is given back
    plain.write_bytes(bytes(flipped))
    rows = rows_of(plain)
    assert [r["reason"] for r in rows] == [None, "bad_record_length", None, None, None]


def test_router_budget_shared_across_single_page_files(tmp_path: Path) -> None:
    nav = "".join(f"<div><a href='/{i}'>Menu entry {i}</a></div>" for i in range(40))
    noisy = "<html><body><div>" + nav + "</div>" + ARTICLE[ARTICLE.index("<article>"):]
    cfg = IngestConfig(extractor="router", extract_timeout_s=0, router_budget=0.2)
    used = []
    with Extractor("router", 0, cfg.router_threshold, router_budget=cfg.router_budget) as ex:
        for i in range(10):
            f = tmp_path / f"p{i}.html"
            f.write_text(noisy)
            row = pa.Table.from_batches(list(read_web_file(str(f), cfg, extractor=ex))).to_pylist()[0]
            used.append(row["html_extractor"])
    assert used.count("trafilatura") == 2  # 20% of ten one-page files, the credit carried between files


NESTED = "<html><body>" + "<div><p>word " * 8000 + "</body></html>"
"""Deep nesting: resiliparse's main-content pass is quadratic in it (8k levels: seconds; 40k: minutes)."""


@pytest.mark.parametrize("shared_bytes", [32 << 20, 1500, 0], ids=["shared", "small-area", "inline"])
def test_hang_mid_window_is_quarantined_and_the_window_goes_on(shared_bytes: int) -> None:
    """A page that hangs the C extractor costs the time limit only; the pages around it, sent in the same
    window (through the shared area; an area so small that pages wait for room or go inline; all inline),
    are extracted."""
    cp1251 = ("<html><head><meta charset='windows-1251'></head><body><article>"
              + "<p>Привет, мир: это длинный абзац о реках и горах.</p>" * 12 + "</article></body></html>")
    pages = [(ARTICLE.encode(), "http://a.example/", None), (NESTED, None),
             (cp1251.encode("cp1251"), "http://b.example/", None), (ARTICLE, "http://c.example/ü", "utf-8")]
    with Extractor("resiliparse", timeout_s=1.0, router_threshold=0.05, shared_bytes=shared_bytes) as ex:
        out = ex.run_window(pages)
        assert isinstance(out[1], ExtractTimeout) and ex.restarts == 1
        assert "sediment" in out[0].text and "sediment" in out[3].text
        assert "Привет" in out[2].text and out[2].charset == "cp1251" and out[2].charset_source == "meta"
        assert out[0].charset == "utf-8" and out[3].charset is None  # a str is taken as decoded
        again = ex.run_window([pages[0], pages[2]])  # the fresh worker serves the next window
        assert [o.text for o in again] == [out[0].text, out[2].text] and ex.restarts == 1


def test_guarded_rows_equal_in_process_rows(ext_dir: Path, tmp_path: Path) -> None:
    """The worker path (bytes in shared memory, decoding in the worker) gives exactly the in-process rows."""
    (tmp_path / "b.html.gz").write_bytes(gzip.compress(ARTICLE.encode("utf-16")))
    files = [ext_dir / "warc/resiliparse_clueweb09-quirk.warc.gz", ext_dir / "warc/cc_whirlwind/whirlwind.warc.gz",
             ext_dir / "warc/resiliparse_cc-main-2020-34_sample.warc.gz", tmp_path / "b.html.gz"]
    for f in files:
        inproc = rows_of(f)
        guarded = rows_of(f, extract_timeout_s=30)
        for r in inproc + guarded:
            r.pop("html_extract_ms")
        assert guarded == inproc, f


def test_hang_in_a_warc_is_quarantined_and_the_rest_kept(tmp_path: Path) -> None:
    p = tmp_path / "hang.warc.gz"
    write_gz_members(p, [warc_record("response", f"http://h{i}.example/", http(page.encode()))
                         for i, page in enumerate([ARTICLE, NESTED, ARTICLE.replace("rivers", "lakes")])])
    rows = rows_of(p, extract_timeout_s=1.0)
    assert [(r["decision"], r["reason"]) for r in rows] == [(S.KEPT, None), (S.QUARANTINED, "extract_timeout"),
                                                            (S.KEPT, None)]
    assert "lakes" in rows[2]["text"]


def test_worker_killed_mid_window_is_an_extract_error_and_the_rest_go_on() -> None:
    import os
    import signal
    import threading

    from curation.stages.ingest.web.sandbox import ExtractFailed

    pages = [(ARTICLE.encode(), None, None), (NESTED, None), (ARTICLE.replace("rivers", "lakes"), None)]
    with Extractor("resiliparse", timeout_s=30, router_threshold=0.05) as ex:
        ex(ARTICLE)  # the worker is up
        pid = ex._proc.pid
        threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()  # dies while on the nested page
        out = ex.run_window(pages)
    assert "sediment" in out[0].text and "lakes" in out[2].text
    assert isinstance(out[1], ExtractFailed) and "exit code" in str(out[1]) and ex.restarts == 1


def test_time_limit_counts_cpu_not_a_busy_machine() -> None:
    """A page that burns CPU is stopped after timeout_s of CPU (SIGXCPU); a page that is only slow in wall-clock
    time because the worker does not get the CPU (simulated with SIGSTOP) is not quarantined."""
    import os
    import signal
    import threading

    with Extractor("resiliparse", timeout_s=1.0, router_threshold=0.05, wall_factor=60) as ex:
        out = ex.run_window([(ARTICLE, None), (NESTED, None), (ARTICLE, None)])
        assert isinstance(out[1], ExtractTimeout) and "CPU" in str(out[1]) and ex.restarts == 1
        assert "sediment" in out[0].text and "sediment" in out[2].text
        pid = ex._proc.pid
        os.kill(pid, signal.SIGSTOP)
        threading.Timer(2.5, os.kill, (pid, signal.SIGCONT)).start()
        slow = ex(ARTICLE.encode())  # 2.5 s of wall-clock time, almost no CPU
        assert "sediment" in slow.text and ex.restarts == 1
