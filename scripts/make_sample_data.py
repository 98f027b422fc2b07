"""Build sample_data/ from the external evaluation set (tools/eval_data.py; run once, the output is committed).

Only redistributable material is copied: langid.py test texts (Project Gutenberg public domain,
Wikipedia CC BY-SA, BSD-style collection), LaTeX documentation PDFs and their text (LPPL/MIT),
and WARC samples from Apache-2.0 repositories. See sample_data/README.md.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.eval_data import eval_data_path  # noqa: E402

EXT = eval_data_path()
OUT = ROOT / "sample_data"
PDFS = ["multivar.pdf", "topology-hw-1.pdf", "elstest-5p.pdf", "paper.pdf"]


def main() -> int:
    if not EXT.exists():
        print(f"missing {EXT}", file=sys.stderr)
        return 1
    (OUT / "jsonl").mkdir(parents=True, exist_ok=True)
    docs = []
    for f in sorted((EXT / "langid" / "langid_py_tests").glob("*.txt")):
        raw = f.read_bytes().decode("utf-8", "replace").splitlines()
        header = [line.lstrip("# ").strip() for line in raw[:4] if line.startswith("#")]
        body = "\n".join(line for line in raw if not line.startswith("#")).strip()
        lang = f.name.split(".")[0].rstrip("_")
        docs.append({"id": f"langid/{f.stem}", "text": body, "url": header[3] if len(header) > 3 else None,
                     "lang_label": lang, "title": header[0] if header else None})
    manifest = json.loads((EXT / "pdf" / "manifest.json").read_text())
    for entry in manifest:
        ref = EXT / "pdf" / entry["reference_text"] if entry.get("reference_text") else None
        if not ref or not ref.exists():
            continue
        pages = ref.read_text(errors="replace").split("\f")
        for i, page in enumerate(pages):
            if page.strip():
                docs.append({"id": f"pdftext/{Path(entry['file']).name}#p{i + 1}", "text": page.strip(),
                             "lang_label": "en", "licence": entry.get("license")})
    with open(OUT / "jsonl" / "documents.jsonl", "w") as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    (OUT / "warc").mkdir(exist_ok=True)
    for f in (EXT / "warc").rglob("*"):
        if f.is_file() and not f.name.endswith(".md"):
            shutil.copy(f, OUT / "warc" / f.name)
    (OUT / "pdf").mkdir(exist_ok=True)
    for name in PDFS:
        shutil.copy(EXT / "pdf" / "files" / name, OUT / "pdf" / name)
    keep = [e for e in manifest if e["file"].split("/")[-1] in PDFS]
    (OUT / "pdf" / "_sources.json").write_text(json.dumps(keep, indent=1) + "\n")
    print(f"{len(docs)} documents, {len(PDFS)} PDFs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
