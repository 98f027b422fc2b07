"""The UI under attack, over real HTTP against real uvicorn servers (not FastAPI's TestClient).

Each test tries one attack from issue 20 and checks what the server answers now:
- no token on a server reachable beyond loopback: 401 for pages, static files and JSON alike;
- the token as a Bearer header, or as the cookie that one `?token=` visit sets, is let in;
- a foreign Host header (DNS rebinding): 421, with the token or without;
- a POST from another origin: 403;
- a 200 MB label POST, with Content-Length or chunked: 413 before the server has taken it, and the
  server's peak resident memory (VmHWM, from /proc) grows by less than 50 MB;
- hostile PDFs (a 4 kB doubly compressed content stream that makes PDFium abort, a 200 x 200 inch page):
  a clear message or a scaled-down image, while the server stays up and small;
- the CLI: a token shorter than 16 characters is refused; a server that needs a token and has none gets a
  random one, different on every start (never a fixed default such as `change-me`).

The "public" mode (every request needs the token) is tested on 127.0.0.1 with `public=True`, which is
what binding any other address turns on; one CLI test also binds the machine's own address when it has one.
Memory is measured on a server in a child process (`python -m curation ui`), so the test process's own
allocations do not blur it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("duckdb")
pytest.importorskip("pypdfium2")

from curation.ui import sandbox as S  # noqa: E402
from curation.ui.pdf import LABELS_FILE  # noqa: E402
from curation.ui.security import COOKIE  # noqa: E402
from curation.ui.server import free_port, serving  # noqa: E402
from tools import demo_run as demo  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "t0ken-for-the-security-tests"
BIG = 200 * 1024 * 1024
RSS_SLACK = 50 * 1024 * 1024
LIMITS = S.Limits(memory_mb=1024, cpu_s=10, wall_s=15.0)
needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc")


# ---------------------------------------------------------------- hostile PDFs and runs
def tiny_pdf(mediabox: str = "0 0 612 792", content: bytes = b"BT /F1 12 Tf 72 720 Td (hello) Tj ET",
             filters: str = "") -> bytes:
    """A one-page PDF written byte by byte (so the hostile ones need no PDF library)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [" + mediabox.encode() + b"] /Contents 4 0 R "
            b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
            b"<< /Length %d %s>>\nstream\n" % (len(content), filters.encode()) + content + b"\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def bomb_pdf(megabytes: int = 256) -> bytes:
    """A ~4 kB PDF whose content stream, compressed twice, inflates to `megabytes` MB of drawing operators.

    Rendered in-process it took 3.7 GB and then PDFium aborted the whole process (SIGABRT)."""
    ops = b"0 0 m 100 100 l S\n" * (1024 * 1024 // 18)
    z = zlib.compressobj(9)
    once = b"".join(z.compress(ops) for _ in range(megabytes)) + z.flush()
    return tiny_pdf(content=zlib.compress(once, 9), filters="/Filter [/FlateDecode /FlateDecode] ")


def huge_page_pdf() -> bytes:
    """A 400-byte PDF with a 200 x 200 inch page: rendered at 110 dpi in-process it took 5 GB and 10 s."""
    return tiny_pdf(mediabox="0 0 14400 14400", content=b"0 0 m 14400 14400 l S")


def texts(limit: int = 40) -> list[str]:
    lines = (ROOT / "sample_data" / "jsonl" / "documents.jsonl").read_text(encoding="utf-8").splitlines()[:limit]
    return [json.loads(ln)["text"] for ln in lines if ln.strip()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Three demo runs: `demo` (the sample paper), `bomb` and `huge` (one hostile PDF each)."""
    root = tmp_path_factory.mktemp("uisec")
    sample = texts()
    out = {"demo": demo.build(root / "demo", sample, pdf=ROOT / "sample_data" / "pdf" / "paper.pdf")}
    for name, data in (("bomb", bomb_pdf()), ("huge", huge_page_pdf())):
        folder = root / f"{name}-pdfs"
        folder.mkdir()
        pdf = folder / f"{name}.pdf"
        pdf.write_bytes(tiny_pdf())  # demo.build reads the PDF's text in this process: give it a benign one
        out[name] = demo.build(root / name, sample[:10], pdf=pdf)
        pdf.write_bytes(data)  # what the UI will open
    return out


# ---------------------------------------------------------------- HTTP helpers
def call(base: str, path: str, method: str = "GET", headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """One real HTTP request (http.client: the Host header is whatever `headers` says, else the URL's)."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def big_post(base: str, path: str, total: int, chunked: bool,
             headers: dict[str, str] | None = None) -> tuple[int | None, int]:
    """POST `total` body bytes in 64 KiB pieces, stopping as soon as the server answers: (status, bytes sent).

    A raw socket rather than http.client, so the client notices an early answer instead of pushing
    all 200 MB first (which is what a server that reads the whole body makes it do)."""
    u = urlsplit(base)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    head = [f"POST {path} HTTP/1.1", f"Host: {u.hostname}:{u.port}",
            "Content-Type: application/x-www-form-urlencoded",
            "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    piece = b"task=" + b"a" * (65536 - 5)
    frame = b"%x\r\n" % len(piece) + piece + b"\r\n" if chunked else piece
    sent, pending, answered = 0, memoryview(b""), False
    s.setblocking(False)
    deadline = time.monotonic() + 120
    answered = bool(select.select([s], [], [], 0.5)[0])  # an answer to the headers alone
    while not answered and time.monotonic() < deadline:
        if not pending:
            if sent >= total:
                if chunked:
                    s.setblocking(True)
                    s.sendall(b"0\r\n\r\n")
                break
            pending, sent = memoryview(frame), sent + len(piece)
        readable, writable, _ = select.select([s], [s], [], 5)
        if readable:
            answered = True
        elif writable:
            try:
                pending = pending[s.send(pending):]
            except (BrokenPipeError, ConnectionResetError):
                break
    s.setblocking(True)
    s.settimeout(30)
    got = b""
    try:
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", got)
    return (int(m.group(1)) if m else None), sent


def peak_rss(pid: int) -> int:
    """Peak resident memory of process `pid` so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


# ---------------------------------------------------------------- servers
@pytest.fixture(scope="module")
def public(runs) -> Iterator[str]:
    """An in-process server in public mode (what any non-loopback bind gets) on 127.0.0.1."""
    with serving([str(p) for p in runs.values()], token=TOKEN, public=True, allowed_hosts=["ui.example"],
                 pdf_limits=LIMITS) as url:
        yield url


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATION_UI_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return {**env, **extra}


def start_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "curation", "ui", *args], cwd=ROOT, env=env or cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_line(proc: subprocess.Popen[str], pattern: str, timeout: float = 60) -> re.Match[str]:
    """The first stderr line of `proc` matching `pattern` (fails when it exits or the time is up)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 0.5)[0]:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m
    raise AssertionError(f"no line matching {pattern!r} from the CLI; it said: {''.join(seen)[-2000:]}")


def wait_port(host: str, port: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the UI server exited"
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the UI server did not listen on {host}:{port}")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


@pytest.fixture(scope="module")
def child(runs) -> Iterator[tuple[str, int]]:
    """`python -m curation ui` on loopback in a child process: (base URL, pid), warmed up."""
    port = free_port()
    proc = start_cli([*(str(p) for p in runs.values()), "--port", str(port), "--pdf-seconds", "10"])
    try:
        wait_port("127.0.0.1", port, proc)
        base = f"http://127.0.0.1:{port}"
        for path in ("/", "/run/demo", "/run/demo/pdf/ab", "/run/bomb/pdf", "/run/huge/pdf"):
            assert call(base, path)[0] == 200, path
        yield base, proc.pid
    finally:
        stop(proc)


# ---------------------------------------------------------------- 1. the token
PROTECTED = ["/", "/run/demo", "/run/demo/drops", "/static/ui.css", "/static/ui.js",
             "/run/demo/whatif/plan.json?threshold=0.5&budget=100000", "/run/demo/pdf/ab/page.png?task=x",
             "/no/such/page"]


@pytest.mark.parametrize("path", PROTECTED)
def test_public_server_needs_the_token_for_every_request(public, path):
    status, headers, body = call(public, path)
    assert status == 401, (path, body[:200])
    assert headers.get("www-authenticate") == "Bearer" and b"ui.css" not in body
    assert call(public, path, headers=bearer("t0ken-but-not-the-right-one"))[0] == 401
    port = urlsplit(public).port
    assert call(public, path, headers={"Cookie": f"{COOKIE}_{port}={TOKEN}"})[0] == 401  # the cookie is not the token
    assert call(public, path, headers=bearer())[0] in (200, 404), path
    assert call(public, path, headers={"X-Curation-Token": TOKEN})[0] in (200, 404), path


def test_one_visit_with_the_token_sets_a_strict_cookie_and_drops_it_from_the_address(public):
    status, headers, _ = call(public, f"/run/demo/drops?stage=04-select&token={TOKEN}")
    assert status == 303 and headers["location"] == "/run/demo/drops?stage=04-select"
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}_{urlsplit(public).port}=") and TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    value = cookie.split(";", 1)[0]
    status, _, body = call(public, "/run/demo/drops?stage=04-select", headers={"Cookie": value})
    assert status == 200 and b"04-select" in body
    assert call(public, "/static/ui.css", headers={"Cookie": value})[0] == 200
    assert call(public, "/run/demo?token=wrong-token-wrong-token")[0] == 401
    assert call(public, "/run/demo", headers={"Cookie": value.replace("=", "=0", 1)})[0] == 401
    assert call(public, f"//evil.example/?token={TOKEN}")[1]["location"] == "/"  # never an open redirect


# ---------------------------------------------------------------- 2. Host and Origin
@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}",
                                  "localhost.evil.example", "0.0.0.0:{port}", "127.0.0.1:{port}@evil.example",
                                  "[::1]x", ""])
def test_foreign_host_gets_421_with_or_without_the_token(public, child, host):
    for base in (public, child[0]):
        h = host.format(port=urlsplit(base).port)
        for headers in ({}, bearer()):
            status, _, body = call(base, "/", headers={"Host": h, **headers})
            assert status == 421, (base, h, body[:200])


def test_loopback_and_listed_host_names_are_served(public):
    port = urlsplit(public).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST.:{port}", "ui.example", f"ui.example:{port}"):
        assert call(public, "/", headers={"Host": host, **bearer()})[0] == 200, host


def _task(base: str, headers: dict[str, str]) -> str:
    status, _, body = call(base, "/run/demo/pdf/ab", headers=headers)
    assert status == 200, body[:300]
    return re.search(rb'name="task" value="([^"]+)"', body).group(1).decode()


def test_cross_origin_posts_get_403(public, runs):
    labels = runs["demo"] / "labels" / LABELS_FILE
    before = labels.read_text() if labels.exists() else ""
    port = urlsplit(public).port
    tid = _task(public, bearer())
    form = {"Content-Type": "application/x-www-form-urlencoded", **bearer()}
    body = f"task={tid}&choice=left".encode()
    for origin in ("http://evil.example", f"http://127.0.0.1.evil.example:{port}", "null",
                   f"http://127.0.0.1:{port + 1}", f"https://localhost:{port}", "file://"):
        status, _, text = call(public, "/run/demo/pdf/ab", "POST", {**form, "Origin": origin}, body)
        assert status == 403, (origin, text[:200])
    assert (labels.read_text() if labels.exists() else "") == before
    status, headers, _ = call(public, "/run/demo/pdf/ab", "POST", {**form, "Origin": f"http://127.0.0.1:{port}"}, body)
    assert status == 303 and headers["location"] == "/run/demo/pdf/ab?saved=1"
    tid = _task(public, bearer())
    assert call(public, "/run/demo/pdf/ab", "POST", {**form, "Origin": "http://ui.example"},
                f"task={tid}&choice=right".encode())[0] == 303  # an operator-listed host


# ---------------------------------------------------------------- 3. bodies
def test_public_post_without_token_is_refused_before_the_body(public):
    status, sent = big_post(public, "/run/demo/pdf/ab", BIG, chunked=False)
    assert status == 401 and sent == 0
    status, sent = big_post(public, "/run/demo/pdf/ab", BIG, chunked=True)
    assert status == 401 and sent == 0


@needs_proc
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_200_mb_label_post_gets_413_before_the_server_takes_it(child, chunked):
    base, pid = child
    before = peak_rss(pid)
    t = time.monotonic()
    status, sent = big_post(base, "/run/demo/pdf/ab", BIG, chunked=chunked)
    took = time.monotonic() - t
    grew = peak_rss(pid) - before
    assert status == 413, (status, sent)
    assert sent <= (0 if not chunked else 32 * 1024 * 1024), f"the server let the client send {sent} bytes first"
    assert grew < RSS_SLACK, f"the server's peak memory grew by {grew / 2**20:.0f} MB"
    assert took < 10
    assert call(base, "/")[0] == 200


def test_small_forms_still_work_and_a_big_one_gets_413_in_process(public):
    form = {"Content-Type": "application/x-www-form-urlencoded", **bearer()}
    status, headers, _ = call(public, "/run/demo/pdf/ab", "POST", form, b"task=x&choice=left&r=" + b"a" * 20_000)
    assert status == 413 and headers.get("connection") == "close"
    assert call(public, "/run/demo/pdf/ab", "POST", form, b"task=x&choice=left")[0] == 409  # read, then refused


# ---------------------------------------------------------------- 4. hostile PDFs
@needs_proc
def test_hostile_pdfs_give_a_clear_message_and_the_server_stays_up_and_small(child):
    base, pid = child
    before = peak_rss(pid)
    t = time.monotonic()
    status, _, body = call(base, "/run/bomb/pdf/ab")
    assert status == 200, body[:300]
    page = body.decode()
    assert 'id="render-error"' in page and "This page could not be rendered:" in page, page[-1500:]
    assert re.search(r"crashed|memory|CPU|longer than", page)
    status, _, body = call(base, "/run/huge/pdf/ab")
    assert status == 200 and b'id="pageimg"' in body
    img = re.search(rb'src="(/run/huge/pdf/ab/page.png\?task=[^"]+)"', body).group(1).decode()
    status, headers, png = call(base, img)
    assert status == 200 and headers["content-type"] == "image/png"
    assert max(png_size(png)) <= S.Limits().max_side_px  # scaled down to fit, not 22,000 pixels square
    took = time.monotonic() - t
    grew = peak_rss(pid) - before
    assert grew < RSS_SLACK, f"the server's peak memory grew by {grew / 2**20:.0f} MB"
    assert took < 40
    assert call(base, "/")[0] == 200 and call(base, "/run/demo/pdf/ab")[0] == 200


def test_the_sandbox_reports_each_limit_as_a_message():
    bomb, paper = bomb_pdf(), (ROOT / "sample_data" / "pdf" / "paper.pdf").read_bytes()
    with pytest.raises(S.PdfWorkError, match="crashed|memory"):
        S.page_png(bomb, 1, LIMITS)
    with pytest.raises(S.PdfWorkError, match="memory"):  # no scaling down: RLIMIT_AS is what stops it
        S.page_png(huge_page_pdf(), 1, S.Limits(memory_mb=512, max_side_px=10**6))
    with pytest.raises(S.PdfWorkError, match="longer than 0.3 s"):
        S.page_png(bomb, 1, S.Limits(wall_s=0.3))
    with pytest.raises(S.PdfWorkError, match="PdfiumError|pdf_corrupt|Failed|error"):
        S.page_count(b"%PDF-1.4 not really", LIMITS)
    with pytest.raises(S.PdfWorkError, match="unknown parser"):
        S.page_text("os:system", paper, 1, LIMITS)  # only registered parser names, never module:Class
    assert S.page_count(paper, LIMITS) >= 1 and S.page_text("pdfium", paper, 1, LIMITS).strip()
    assert png_size(S.page_png(paper, 1, LIMITS))[0] > 100


# ---------------------------------------------------------------- 5. the CLI's token
def test_cli_refuses_a_short_token(runs):
    for args, env in (([str(runs["demo"]), "--token", "change-me"], cli_env()),
                      ([str(runs["demo"]), "--host", "127.0.0.1"], cli_env(CURATION_UI_TOKEN="short"))):
        got = subprocess.run([sys.executable, "-m", "curation", "ui", *args], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
        assert got.returncode == 2 and "at least 16 characters" in got.stderr, got.stderr


def test_cli_generates_a_new_random_token_when_it_needs_one(runs):
    tokens = []
    for _ in range(2):
        port = free_port()
        proc = start_cli([str(runs["demo"]), "--port", str(port), "--require-token"])
        try:
            token = wait_line(proc, r"\?token=(\S+)").group(1)
            wait_port("127.0.0.1", port, proc)
            base = f"http://127.0.0.1:{port}"
            assert call(base, "/")[0] == 401
            assert call(base, "/", headers=bearer(token))[0] == 200
            tokens.append(token)
        finally:
            stop(proc)
    assert tokens[0] != tokens[1] and all(len(t) >= 16 and t != "change-me" for t in tokens)


def own_address() -> str | None:
    """This machine's non-loopback IPv4 address, if it has one (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


def test_cli_bound_beyond_loopback_needs_the_generated_token(runs):
    addr = own_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback address to bind")
    port = free_port(addr)
    proc = start_cli([str(runs["demo"]), "--host", addr, "--port", str(port)])
    try:
        token = wait_line(proc, r"\?token=(\S+)").group(1)
        wait_port(addr, port, proc)
        base = f"http://{addr}:{port}"
        assert call(base, "/")[0] == 401 and call(base, "/static/ui.css")[0] == 401
        assert call(base, "/", headers=bearer(token))[0] == 200
        assert call(base, "/", headers={"Host": "evil.example", **bearer(token)})[0] == 421
    finally:
        stop(proc)


def test_cli_allowed_hosts_come_from_the_option_and_the_environment(monkeypatch):
    from curation.commands import ui as cmd

    monkeypatch.setenv("CURATION_UI_ALLOWED_HOSTS", "a.example, b.example")
    a = cmd.parse_args(["x", "--allowed-host", "c.example"])
    assert a.allowed_host == ["a.example", "b.example", "c.example"] and a.token is None


# ---------------------------------------------------------------- 6. the token flow in a real browser
@pytest.mark.browser
def test_a_browser_gets_in_with_one_token_visit_and_can_label(public, runs):
    """Headless Chromium: `/?token=T` once, then plain addresses, the page image and the label form work
    (the SameSite=Strict cookie is sent, and the form's own Origin passes the Origin check)."""
    pytest.importorskip("playwright")
    import shutil

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import expect, sync_playwright

    labels = runs["demo"] / "labels" / LABELS_FILE
    before = labels.read_text().count("\n") if labels.exists() else 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page()
            assert page.goto(public + "/run/demo").status == 401
            page.goto(f"{public}/run/demo/pdf/ab?token={TOKEN}")
            assert page.url == public + "/run/demo/pdf/ab" and TOKEN not in page.url
            expect(page.locator("#pageimg")).to_have_js_property("complete", True)
            assert page.locator("#pageimg").evaluate("i => i.naturalWidth") > 100
            assert page.locator("#token").count() == 0  # the cookie already carries the token
            page.locator("#choose-right").click()
            expect(page.locator("#saved")).to_be_visible()
            assert page.context.cookies()[0]["httpOnly"] and page.context.cookies()[0]["sameSite"] == "Strict"
        finally:
            browser.close()
    assert labels.read_text().count("\n") == before + 1
