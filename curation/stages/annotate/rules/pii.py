"""Personal data: e-mail addresses, public IP addresses, phone numbers, payment cards, IBANs, national ids.

Counts per kind are columns (`pii__email`, ...); `mode: redact` (the default) replaces every span by its
kind's token (`<EMAIL_ADDRESS>`, ...) in the text itself, before dedup, so duplicates compare redacted
text; `max_pii_density` (spans per 1,000 words) drops documents that are mostly personal data (contact
lists, leaked dumps) in modes redact and drop. The detectors are in `curation/stages/annotate/pii.py`.
Why these choices (default mode, tokens, density unit, what is not detected): docs/DESIGN.md#annotate-pii
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.engine.options import opt
from curation.stages.annotate.pii import (
    DEFAULT_TOKENS,
    KINDS,
    NATIONAL_IDS,
    Detector,
    kind_of,
    presidio_available,
    redact,
)
from curation.stages.annotate.rules.base import Rewrite, Rule, RuleSet, TextBatch, register

PiiMode = Literal["redact", "annotate", "drop", "off"]
DEFAULT_KINDS = ["email", "ip", "phone", "card", "iban"]
COUNTED = ("email", "ip", "phone", "card", "iban", "national_id", "presidio")


@dataclass
class PiiConfig:
    mode: PiiMode = opt("redact", "redact: replace each span by its token (and drop above max_pii_density); annotate: "
                                  "only count; drop: keep the text, drop above max_pii_density; off: skip.")
    kinds: list[str] = opt(DEFAULT_KINDS, "Detectors to run: email, ip (public IPv4/IPv6 only), phone, card (Luhn + "
                                          "issuer prefix), iban (mod 97), national_id (see national_ids), presidio.")
    phone_regions: list[str] = opt(["US", "GB", "DE", "FR"], "Regions whose national-format numbers count (CLDR codes); "
                                                             "numbers in international format (+CC ...) count whatever the region.")
    national_ids: list[str] = opt([], "Countries whose national-id numbers are detected when `national_id` is in kinds: "
                                      "US (SSN, with the never-issued ranges left out), GB (National Insurance number).")
    presidio_entities: list[str] = opt([], "Presidio entities (e.g. PERSON, LOCATION) when `presidio` is in kinds; needs "
                                           "presidio-analyzer and a spaCy English model installed (checked at config load).")
    tokens: dict[str, str] = opt(DEFAULT_TOKENS, "Replacement per kind (us_ssn/uk_nino per id type; presidio's {entity} "
                                                 "becomes the entity name).")
    max_pii_density: float | None = opt(None, "Most PII spans per 1,000 words (redact and drop modes); null: never drop "
                                              "(redaction already removes the data). Dolma drops above 5 spans per document.")

    def validate(self) -> None:
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"kinds: unknown kind {unknown[0]!r} (known: {', '.join(KINDS)})")
        bad_ids = [c for c in self.national_ids if c not in NATIONAL_IDS]
        if bad_ids:
            raise ValueError(f"national_ids: no detector for {bad_ids[0]!r} (known: {', '.join(NATIONAL_IDS)})")
        if self.mode == "off":
            return
        if "phone" in self.kinds:
            try:
                import phonenumbers
            except ImportError as e:
                raise ValueError("kinds: phone needs the phonenumbers package (pip install phonenumbers, part of "
                                 "curation[annotate])") from e

            bad = [r for r in self.phone_regions if r not in phonenumbers.SUPPORTED_REGIONS]
            if bad:
                raise ValueError(f"phone_regions: unknown region {bad[0]!r}")
        if "presidio" in self.kinds and self.presidio_entities:
            why = presidio_available()
            if why:
                raise ValueError(f"kinds: presidio is listed but cannot run here: {why}")
        if self.mode == "drop" and self.max_pii_density is None:
            raise ValueError("mode drop needs max_pii_density (0 drops every document with personal data)")


@register
class Pii(RuleSet):
    name = "pii"
    doc = "Personal data (e-mail, IP, phone, card, IBAN, national ids): count, redact or drop."
    Config = PiiConfig
    order = 5
    rewrite_rule = "spans"
    rules = (
        Rule("density", "personal-data spans per 1,000 whitespace-separated words", None, "max_pii_density"),
        Rule("spans", "personal-data spans of all kinds (before redaction)"),
        *(Rule(k, f"{k} spans found") for k in COUNTED),
    )

    def __init__(self, cfg: PiiConfig):
        super().__init__(cfg)
        self.detector = Detector(tuple(cfg.kinds), tuple(cfg.phone_regions), tuple(cfg.national_ids),
                                 tuple(cfg.presidio_entities) if "presidio" in cfg.kinds else ())

    def active(self) -> bool:
        return self.cfg.mode != "off"

    def drops(self) -> bool:
        return self.cfg.mode in ("drop", "redact")

    def rewrites(self) -> bool:
        return self.cfg.mode == "redact"

    def _values(self, tb: TextBatch, spans: list[list[tuple[int, int, str]]], values: list[str | None]
                ) -> dict[str, np.ndarray]:
        counts = {k: np.zeros(tb.n) for k in COUNTED}
        density = np.zeros(tb.n)
        for i, doc in enumerate(spans):
            if not doc:
                continue
            for _, _, key in doc:
                counts[kind_of(key)][i] += 1
            # str.split() words, counted only where there are spans (splitting every text again costs more)
            words = len((values[i] or "").split())
            density[i] = len(doc) * 1000.0 / words if words else np.nan
        for k in COUNTED:
            if k not in self.cfg.kinds:
                counts[k][:] = np.nan  # not looked for: unknown, not zero
        total = np.array([len(s) for s in spans], dtype=np.float64)
        return {"density": density, "spans": total, **counts}

    def compute(self, tb: TextBatch) -> dict[str, np.ndarray]:
        values = tb.texts.to_pylist()
        return self._values(tb, self.detector.scan(tb.texts, values), values)

    def rewrite(self, tb: TextBatch) -> Rewrite:
        values = tb.texts.to_pylist()
        spans = self.detector.scan(tb.texts, values)
        changed = np.array([bool(s) for s in spans], dtype=bool)
        new: list[str | None] = [None] * tb.n
        for i in np.flatnonzero(changed).tolist():
            new[i] = redact(values[i], spans[i], self.cfg.tokens)
        texts = pc.if_else(pa.array(changed), pa.array(new, pa.string()), tb.texts) if changed.any() else tb.texts
        return Rewrite(texts, changed, self._values(tb, spans, values))
