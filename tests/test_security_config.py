"""Config is data: no value of a config can make curation import or run code, and the PDF parser sandbox
never unpickles what its child (which parses hostile PDFs) sends back. docs/SECURITY.md."""

from __future__ import annotations

import io
import pickle
import struct
import sys
from pathlib import Path

import pytest

from curation.config import ConfigError, load_config


def _planted_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module on sys.path that leaves a file behind when imported (how we see an import happen)."""
    marker = tmp_path / "imported"
    (tmp_path / "planted_mod.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nclass Parser:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return marker


@pytest.mark.parametrize("key", ["ingest.pdf.expensive_parser", "ingest.pdf.cheap_parsers"])
def test_a_module_class_reference_in_config_is_an_error_and_imports_nothing(tmp_path, monkeypatch, key):
    marker = _planted_module(tmp_path, monkeypatch)
    value = "planted_mod:Parser" if key.endswith("expensive_parser") else "[pdfium, planted_mod:Parser]"
    with pytest.raises(ConfigError, match="never imports code") as e:
        load_config(None, [f"{key}={value}"])
    assert "pdfium" in str(e.value) and "tesseract" in str(e.value)  # the known names are listed
    assert not marker.exists() and "planted_mod" not in sys.modules


def test_get_parser_refuses_an_import_path(tmp_path, monkeypatch):
    from curation.stages.ingest.pdf.parsers import get_parser

    marker = _planted_module(tmp_path, monkeypatch)
    with pytest.raises(KeyError, match="unknown PDF parser"):
        get_parser("planted_mod:Parser")
    assert not marker.exists()


def test_an_installed_plugin_is_found_by_its_registered_name(tmp_path, monkeypatch):
    """Plugins register through package metadata (an entry point), which only whoever installs packages controls."""
    (tmp_path / "myparsers.py").write_text(
        "from curation.stages.ingest.pdf.parsers import Parser\n"
        "class Fixed(Parser):\n"
        "    name = 'fixed'\n"
        "    def parse(self, data, pages=None):\n"
        "        return ['fixed text'] * len(pages or [1])\n")
    info = tmp_path / "myparsers-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myparsers\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[curation.pdf_parsers]\nfixed = myparsers:Fixed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from curation.stages.ingest.pdf.parsers import get_parser

    cfg = load_config(None, ["ingest.pdf.expensive_parser=fixed"])
    assert cfg.ingest.pdf.expensive_parser == "fixed"
    assert get_parser("fixed").parse(b"%PDF-", [1, 2]) == ["fixed text", "fixed text"]


def test_the_sandbox_protocol_never_unpickles():
    """A compromised child answering with a pickle (here one that would call os.system) gets a protocol error."""
    from curation.stages.ingest.pdf.sandbox import _read_msg, _write_msg

    class Evil:
        def __reduce__(self):
            return (print, ("the parent ran code from the child",))

    payload = pickle.dumps((True, Evil()))
    for framed in (struct.pack("<Q", len(payload)) + payload,                 # the old framing
                   struct.pack("<QQ", len(payload), 0) + payload):           # the new framing, pickle body
        with pytest.raises((ValueError, EOFError, UnicodeDecodeError)):
            _read_msg(io.BytesIO(framed))
    with pytest.raises(ValueError, match="over the limit"):  # a huge announced size is refused before reading
        _read_msg(io.BytesIO(struct.pack("<QQ", 10, 1) + struct.pack("<Q", 1 << 40) + b"{}"))
    buf = io.BytesIO()
    _write_msg(buf, [True, {"texts": ["a", "b"], "data": b"\x00\xff", "n": 2.5}])
    buf.seek(0)
    assert _read_msg(buf) == [True, {"texts": ["a", "b"], "data": b"\x00\xff", "n": 2.5}]
