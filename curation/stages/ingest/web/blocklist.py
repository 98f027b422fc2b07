"""URL blocklist: domains (with their subdomains) and regexes, checked before any extraction work."""

from __future__ import annotations

import re
from pathlib import Path

from curation.io.readers import domain_of


class UrlBlocklist:
    def __init__(self, entries: list[str], file: str | None = None):
        items = list(entries)
        if file:
            for line in Path(file).read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    items.append(line)
        self.domains = {e.lower().lstrip(".") for e in items if not e.startswith("re:")}
        patterns = [e[3:] for e in items if e.startswith("re:")]
        self.regex = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None

    def __bool__(self) -> bool:
        return bool(self.domains) or self.regex is not None

    def match(self, url: str | None) -> str | None:
        """The entry that blocks `url`, or None."""
        if not url:
            return None
        host = domain_of(url) or ""
        parts = host.split(".")
        for i in range(len(parts)):
            cand = ".".join(parts[i:])
            if cand in self.domains:
                return cand
        if self.regex is not None:
            m = self.regex.search(url)
            if m:
                return f"re:{m.group(0)[:80]}"
        return None
