"""Personal-data detectors: find the character spans of e-mail addresses, public IP addresses, phone numbers,
payment-card numbers, IBANs and national ids in a text, each candidate checked the way its issuer checks it.

A regex finds candidates cheaply (C speed, one pass per kind, and only over documents an Arrow prefilter
says can hold one); a validator then decides: `ipaddress` (public ranges only), `phonenumbers` (a number
valid for a region, written with grouping), Luhn + issuer prefix + length (cards), mod-97 + per-country
length (IBANs), the issuers' invalid ranges (US SSN, UK NINO). Where kinds overlap the earlier kind in
`KINDS` wins. `Detector.scan` gives the spans, `redact` replaces them with tokens.
Design (choices, limits, what the peers do): docs/DESIGN.md#annotate-pii
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Every kind in priority order (an overlapping span of a later kind is dropped).
KINDS = ("email", "ip", "iban", "card", "national_id", "phone", "presidio")
#: Replacement tokens as Presidio's anonymizer writes them (NeMo Curator uses the same; Dolma writes
#: |||EMAIL_ADDRESS|||, datatrove substitutes dummy addresses).
DEFAULT_TOKENS = {
    "email": "<EMAIL_ADDRESS>", "ip": "<IP_ADDRESS>", "phone": "<PHONE_NUMBER>", "card": "<CREDIT_CARD>",
    "iban": "<IBAN_CODE>", "us_ssn": "<US_SSN>", "uk_nino": "<UK_NINO>", "presidio": "<{entity}>",
}
#: National-id detectors by country code (`annotate.pii.national_ids`).
NATIONAL_IDS = {"US": "us_ssn", "GB": "uk_nino"}

Span = tuple[int, int, str]  # start, end (character offsets), token key (kind, or the national-id type)
Runs = list[tuple[int, int]]
#: Digits joined by at most two separators: where card, phone, IPv4 and SSN candidates can be. Found once per
#: text; each kind's regex then runs only inside the runs long enough for it (a scan of the whole text per
#: kind costs several times more on number-heavy pages).
NUM_RUN_RE = re.compile(r"[0-9](?:[ ().\-/\u00a0]{0,2}[0-9]){3,}")


def number_runs(text: str) -> Runs:
    return [m.span() for m in NUM_RUN_RE.finditer(text) if m.end() - m.start() >= 7]


def _in_runs(pattern: re.Pattern, text: str, runs: Runs | None, min_len: int) -> Iterator[re.Match]:
    """pattern.finditer over the runs of at least `min_len` characters (the whole text when runs is None)."""
    if runs is None:
        yield from pattern.finditer(text)
        return
    for a, b in runs:
        if b - a >= min_len:
            yield from pattern.finditer(text, a, b + 2)

# -- e-mail ----------------------------------------------------------------------------------------------

# RFC 5322 allows more in the local part ({ } / = ' ...), but in text those are markup around an address
# (\email{a@b.org}, ?to=a@b.org), so they end it rather than belong to it.
_LOCAL = r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})"
EMAIL_RE = re.compile(rf"(?<![\w.+@-]){_LOCAL}@{_DOMAIN}(?![\w@-]|\.[A-Za-z0-9])")
#: "TLDs" that are file extensions: logo@2x.png and icon@3x.webp are image names, not addresses.
FILE_TLDS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "tif", "tiff", "pdf",
                       "mp4", "webm", "avif", "heic"})


def find_emails(text: str) -> list[Span]:
    """Addresses around each '@' (the regex runs on a window there: a scan of the whole text from every
    position costs several times more)."""
    out: list[Span] = []
    at, end = text.find("@"), 0
    while at >= 0:
        if at >= end:
            m = EMAIL_RE.search(text, max(end, at - 64), at + 256)
            if m and m.start() <= at < m.end():
                end = m.end()
                if m.group(1).lower() not in FILE_TLDS:
                    out.append((m.start(), m.end(), "email"))
        at = text.find("@", at + 1)
    return out


# -- IP addresses ------------------------------------------------------------------------------------------

# Regexes here start with a character (the look-behind comes after it) so that the engine skips ahead to
# candidates instead of trying every position: 2-3x faster on long texts.
IPV4_RE = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,2}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?![\w]|\.\d)")
COLONS_RE = re.compile(r":[0-9A-Fa-f]{0,4}:")
IPV6_RE = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|::?)(?:[0-9A-Fa-f]{0,4}:){1,7}"
                     r"(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\d)")
#: Words before a dotted quad that make it a version, section or table number ("version 1.2.3.4").
NOT_IP_BEFORE = re.compile(r"(?:\bv|\b(?:version|ver|release|rel|build|revision|rev|firmware|kernel|update|patch|"
                           r"section|sec|chapter|ch|table|figure|fig|eq|equation|step|rule|oid|item|no|number)\.?)"
                           r"\s*[:#]?\s*$|§\s*$", re.IGNORECASE)


def _public(addr: str) -> bool:
    """A globally routable unicast address: not private, loopback, link-local, reserved, documentation,
    shared (CGNAT), multicast or unspecified (`ipaddress` knows the IANA special-purpose registries)."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_link_local)


def find_ips(text: str, runs: Runs | None = None) -> list[Span]:
    out = []
    for m in _in_runs(IPV4_RE, text, runs, 7):
        if _public(m.group()) and not NOT_IP_BEFORE.search(text, max(0, m.start() - 24), m.start()):
            out.append((m.start(), m.end(), "ip"))
    end = 0
    for c in COLONS_RE.finditer(text):  # IPv6 only around two colons close together
        if c.start() < end:
            continue
        m = IPV6_RE.search(text, max(end, c.start() - 40), c.end() + 40)
        if m and m.start() <= c.start() < m.end():
            end = m.end()
            s = m.group()
            if s.count(":") >= 2 and _public(s):
                out.append((m.start(), m.end(), "ip"))
    return out


# -- payment cards -----------------------------------------------------------------------------------------

CARD_RE = re.compile(r"[0-9](?<![\w.,/-][0-9])(?:[ \-]?[0-9]){12,18}(?![\w/-]|[.,]\d)")
#: Issuer prefixes (IIN ranges) and lengths of the networks that issue most cards.
CARD_NETWORKS: tuple[tuple[tuple[int, int], int, tuple[int, ...]], ...] = (
    ((4, 4), 1, (13, 16, 19)),                      # Visa
    ((51, 55), 2, (16,)), ((2221, 2720), 4, (16,)),  # Mastercard
    ((34, 34), 2, (15,)), ((37, 37), 2, (15,)),      # American Express
    ((6011, 6011), 4, (16, 17, 18, 19)), ((644, 649), 3, (16, 17, 18, 19)), ((65, 65), 2, (16, 17, 18, 19)),  # Discover
    ((300, 305), 3, (14, 16, 17, 18, 19)), ((36, 36), 2, (14, 15, 16, 17, 18, 19)), ((38, 39), 2, (16, 17, 18, 19)),  # Diners
    ((3528, 3589), 4, (16, 17, 18, 19)),             # JCB
    ((62, 62), 2, (16, 17, 18, 19)),                 # UnionPay
    ((5018, 5018), 4, tuple(range(12, 20))), ((5020, 5020), 4, tuple(range(12, 20))),
    ((5038, 5038), 4, tuple(range(12, 20))), ((6304, 6304), 4, tuple(range(12, 20))),
    ((6759, 6759), 4, tuple(range(12, 20))), ((6761, 6763), 4, tuple(range(12, 20))),  # Maestro
)
#: Groupings people write card numbers in (digits per group), when they write separators at all.
CARD_GROUPS = {(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4), (4, 4, 4, 1), (4, 4, 4, 2), (4, 4, 4, 3),
               (4, 4, 4, 4, 1), (4, 4, 4, 4, 2), (4, 4, 4, 4, 3), (4, 4, 5), (4, 4, 4, 4, 4)}
#: Reference words just before a long number that make it an order, invoice, ISBN or other reference
#: number rather than a card or phone number ("Order no. 4111...", "ISBN 978-...").
NOT_ID_BEFORE = re.compile(r"\b(?:isbn|issn|doi|order|invoice|tracking|serial|ref|reference|patent|ticket|case|"
                           r"acct|imei|ean|upc|gtin|sku|article|part|model|batch|lot)"
                           r"(?:[\s.:#-]*(?:no|nr|num|number|id|code))?[\s.:#-]*$", re.IGNORECASE)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_network_ok(digits: str) -> bool:
    """The number's prefix belongs to a card network that issues numbers of its length."""
    n = len(digits)
    return any(lo <= int(digits[:width]) <= hi and n in lengths for (lo, hi), width, lengths in CARD_NETWORKS)


def find_cards(text: str, runs: Runs | None = None) -> list[Span]:
    out = []
    for m in _in_runs(CARD_RE, text, runs, 13):
        raw = m.group()
        digits = raw.replace(" ", "").replace("-", "")
        if not (13 <= len(digits) <= 19 and card_network_ok(digits) and luhn_ok(digits)):
            continue
        groups = tuple(len(g) for g in re.split(r"[ -]", raw))
        if len(groups) > 1 and (groups not in CARD_GROUPS or len({c for c in raw if c in " -"}) > 1):
            continue
        if NOT_ID_BEFORE.search(text, max(0, m.start() - 24), m.start()) or IBAN_HEAD.search(text, max(0, m.start() - 40), m.start()):
            continue
        out.append((m.start(), m.end(), "card"))
    return out


# -- IBAN --------------------------------------------------------------------------------------------------

#: IBAN length per country (the SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}
#: Country code and check digits just before a number: the rest of an IBAN-like code (one that failed its
#: checksum), whose digit groups are no card or phone number either.
IBAN_HEAD = re.compile(r"\b[A-Z]{2}\d{2} ?(?:[A-Z0-9]{4} ?)*$")
IBAN_RE = re.compile(r"([A-Z](?<!\w[A-Z])[A-Z])(\d{2})((?: ?[A-Z0-9]){11,30})(?![A-Za-z0-9])")


def iban_ok(compact: str) -> bool:
    """ISO 13616: the country's length and the mod-97 check (country and check digits moved to the end)."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def find_ibans(text: str) -> list[Span]:
    out = []
    for m in IBAN_RE.finditer(text):
        want = IBAN_LENGTHS.get(m.group(1))
        if want is None:
            continue
        # the candidate may run on into the next group of capitals: cut it at the country's length
        end, seen = m.start(), 0
        while end < m.end() and seen < want:
            seen += text[end] != " "
            end += 1
        if seen < want or (end < m.end() and text[end] != " "):
            continue
        if iban_ok(text[m.start():end].replace(" ", "")):
            out.append((m.start(), end, "iban"))
    return out


# -- national ids ------------------------------------------------------------------------------------------

SSN_RE = re.compile(r"([0-9](?<![\w-][0-9])[0-9]{2})([- ])([0-9]{2})\2([0-9]{4})(?![\w-]|[.,]\d)")
#: Numbers the SSA published as examples (and so never issued) and the famous wallet card.
SSN_INVALID = {"078051120", "219099999", "123456789"}
NINO_RE = re.compile(r"([A-CEGHJ-PR-TW-Z](?<!\w[A-Z])[A-CEGHJ-NPR-TW-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])(?![\w])")
NINO_BAD_PREFIX = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def find_us_ssn(text: str, runs: Runs | None = None) -> list[Span]:
    """AAA-GG-SSSS with the SSA's never-issued ranges left out: area 000, 666 and 900-999, group 00,
    serial 0000 (written with dashes or spaces; a bare 9-digit run is too often something else)."""
    out = []
    for m in _in_runs(SSN_RE, text, runs, 11):
        area, group, serial = m.group(1), m.group(3), m.group(4)
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
            continue
        if area + group + serial in SSN_INVALID:
            continue
        out.append((m.start(), m.end(), "us_ssn"))
    return out


def find_uk_nino(text: str, runs: Runs | None = None) -> list[Span]:
    """UK National Insurance number: two prefix letters (D, F, I, Q, U, V never; O never second; BG, GB, KN,
    NK, NT, TN, ZZ never), six digits, suffix A-D."""
    return [(m.start(), m.end(), "uk_nino") for m in NINO_RE.finditer(text) if m.group(1) not in NINO_BAD_PREFIX]


NATIONAL_FINDERS: dict[str, Callable[[str, Runs | None], list[Span]]] = {"us_ssn": find_us_ssn, "uk_nino": find_uk_nino}


# -- phone numbers -----------------------------------------------------------------------------------------

SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")  # the US SSN layout; phone numbers are not written so
DECIMAL_RE = re.compile(r"\+?\d+[.,]\d+", re.ASCII)  # 0.284781: one dot or comma is a decimal, not grouping
THOUSANDS_RE = re.compile(r"\d{1,3}(?:[ ,.\u00a0]\d{3})+", re.ASCII)  # 2 016 000: a count, not a phone number
#: A run of digits with single separators, after an optional +CC, (0) and (area code): what a written phone
#: number looks like. ASCII digits only (\d would take other scripts' digits, which phonenumbers reads too).
DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")  # an IPv4 address (or a version), not a phone number
DATE_RE = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{1,2}([-/.])\d{1,2}\2\d{2,4}")
GROUP_RE = re.compile(r"[0-9]+")
SEPARATOR_RE = re.compile(r"[ \u00a0().\-/]")
PHONE_RE = re.compile(r"(?<![\w+@/.:,-])(?:\+ ?\d{1,3}[ .\-\u00a0]?(?:\(0\)[ .\-\u00a0]?)?)?"
                      r"(?:\(\d{1,5}\)[ .\-\u00a0]?)?\d(?:[ .\-/\u00a0]?\d){5,15}(?![\w@]|[.,/:-]\d)", re.ASCII)


@cache
def _national_prefix(region: str) -> str | None:
    """The digit a national-format number of `region` starts with, when its numbers are written with it
    (0 in GB, DE, FR); None where the prefix is optional or absent (the US writes (415) 555-2671)."""
    import phonenumbers

    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if md is None or not md.national_prefix:
        return None
    optional = any(f.national_prefix_optional_when_formatting for f in md.number_format)
    return None if optional or md.national_prefix == "1" else md.national_prefix


@cache
def _digit_counts(region: str) -> frozenset[int]:
    """How many digits a national-format number of `region` has, national prefix included or not (the
    metadata's possible lengths): a window with another count is not tried for that region."""
    import phonenumbers

    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if md is None:
        return frozenset(range(4, 18))
    lengths = set(md.general_desc.possible_length)
    extra = len(md.national_prefix or "")
    return frozenset(lengths | {n + extra for n in lengths})


def _phone_ok(window: str, region: str, intl: bool) -> bool:
    """`phonenumbers` parses the window as a number valid in its country, and the window's digit groups keep
    the number's own groups together (libphonenumber's STRICT_GROUPING: a written group may join formatted
    groups, never split one; 030 12345678 and 030/12345678, not 0301 2345678)."""
    import phonenumbers
    from phonenumbers import PhoneNumberFormat

    try:
        num = phonenumbers.parse(window, region)
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number(num):
        return False
    formatted = phonenumbers.format_number(num, PhoneNumberFormat.INTERNATIONAL if intl else PhoneNumberFormat.NATIONAL)
    written = GROUP_RE.findall(window.replace("(0)", "") if intl else window)
    wanted = GROUP_RE.findall(formatted)
    if not intl and len(written) > 1 and written[0] == phonenumbers.ndd_prefix_for_region(region, True):
        written = written[1:]  # 1-800-555-0199: the trunk prefix the national format leaves out
    if "".join(written) != "".join(wanted):
        return False
    cuts, pos = set(), 0
    for g in wanted:
        pos += len(g)
        cuts.add(pos)
    pos = 0
    for g in written:
        pos += len(g)
        if pos not in cuts:
            return False
    return True


def find_phones(text: str, regions: Sequence[str], taken: Sequence[tuple[int, int]] = (),
                runs: Runs | None = None) -> list[Span]:
    """Numbers `phonenumbers` says are valid in one of `regions` (numbers in international format, +CC...,
    whatever the region), grouped as the country groups them (`_phone_ok`). A number in national format must
    be written with grouping (spaces, dashes, dots, slashes or brackets), as phone numbers are: a bare run
    of 8-12 digits is more often an id, a date or a measurement. `taken`: spans other kinds already hold (a
    card or IBAN is not parsed again as a phone number)."""
    out: list[Span] = []
    end = 0
    for ra, rb in (number_runs(text) if runs is None else runs):
        for m in PHONE_RE.finditer(text, max(end, ra - 3), rb + 2):
            window = m.group()
            intl = window.startswith("+")
            n_digits = len("".join(GROUP_RE.findall(window)))
            if (not 7 <= n_digits <= 16 or DECIMAL_RE.fullmatch(window) or SSN_SHAPE.fullmatch(window)
                    or DATE_RE.fullmatch(window) or DOTTED_QUAD.fullmatch(window)
                    or not intl and (THOUSANDS_RE.fullmatch(window) or not SEPARATOR_RE.search(window))):
                continue
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            if NOT_ID_BEFORE.search(text, max(0, m.start() - 24), m.start()) or \
                    IBAN_HEAD.search(text, max(0, m.start() - 40), m.start()):
                continue
            first = window.lstrip("(")[:1]
            for region in (("ZZ",) if intl else regions):
                prefix = _national_prefix(region)
                if prefix and not first.startswith(prefix) or not intl and n_digits not in _digit_counts(region):
                    continue
                if _phone_ok(window, region, intl):
                    out.append((m.start(), m.end(), "phone"))
                    break
            end = m.end()
    return out


# -- presidio (optional) -----------------------------------------------------------------------------------

@cache
def presidio_analyzer():  # pragma: no cover - needs presidio-analyzer and a spaCy model
    """Presidio's AnalyzerEngine on the first installed spaCy English model, or an ImportError saying why not."""
    import spacy.util
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    model = next((m for m in ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_trf")
                  if spacy.util.is_package(m)), None)
    if model is None:
        raise ImportError("presidio needs a spaCy English model (pip install en_core_web_sm or larger)")
    provider = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy",
                                                    "models": [{"lang_code": "en", "model_name": model}]})
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])


def presidio_available() -> str | None:
    """None if presidio can run here, else why not."""
    try:
        presidio_analyzer()
    except ImportError as e:
        return str(e)
    return None


def find_presidio(text: str, entities: Sequence[str]) -> list[Span]:  # pragma: no cover - optional dependency
    results = presidio_analyzer().analyze(text=text, entities=list(entities), language="en")
    return [(r.start, r.end, f"presidio:{r.entity_type}") for r in results]


# -- all kinds together ------------------------------------------------------------------------------------

#: RE2 patterns (Arrow, whole batch at once) a text must match to be scanned in Python for that kind, for
#: the kinds whose Python scan costs more than the check (IBAN and NINO regexes start at every capital).
PREFILTER = {
    "iban": r"[A-Z]{2}\d{2} ?[A-Z0-9]{4}",
    "national_id": r"\d{3}[- ]\d{2}[- ]\d{4}|[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]",
}


@dataclass(frozen=True)
class Detector:
    """The configured detectors; `scan` finds spans per text, `redact` writes the tokens."""

    kinds: tuple[str, ...]
    phone_regions: tuple[str, ...] = ("US", "GB", "DE", "FR")
    national_ids: tuple[str, ...] = ()
    presidio_entities: tuple[str, ...] = ()

    def _finders(self, kind: str) -> list[Callable[[str, Runs, list[tuple[int, int]]], list[Span]]]:
        """Finders of a kind, called as f(text, number runs, spans taken by earlier kinds)."""
        if kind == "email":
            return [lambda t, runs, taken: find_emails(t)]
        if kind == "ip":
            return [lambda t, runs, taken: find_ips(t, runs)]
        if kind == "iban":
            return [lambda t, runs, taken: find_ibans(t)]
        if kind == "card":
            return [lambda t, runs, taken: find_cards(t, runs)]
        if kind == "national_id":
            return [lambda t, runs, taken, f=NATIONAL_FINDERS[NATIONAL_IDS[c]]: f(t, runs) for c in self.national_ids]
        if kind == "phone":
            regions = self.phone_regions
            return [lambda t, runs, taken: find_phones(t, regions, taken, runs)]
        if kind == "presidio" and self.presidio_entities:
            entities = self.presidio_entities
            return [lambda t, runs, taken: find_presidio(t, entities)]
        return []

    def scan_text(self, text: str, kinds: Sequence[str] | None = None) -> list[Span]:
        """Non-overlapping spans of one text, sorted; overlaps go to the kind earlier in KINDS."""
        spans: list[Span] = []
        taken: list[tuple[int, int]] = []
        runs = number_runs(text)
        for kind in KINDS:
            if kind not in self.kinds or (kinds is not None and kind not in kinds):
                continue
            for finder in self._finders(kind):
                for s in finder(text, runs, taken):
                    if not any(s[0] < b and a < s[1] for a, b in taken):
                        spans.append(s)
                        taken.append((s[0], s[1]))
        spans.sort()
        return spans

    def scan(self, texts: pa.Array, values: list[str | None] | None = None) -> list[list[Span]]:
        """Spans of every text of a string array; `values`: the same texts as Python strings, if the caller
        has them. Texts with no digit and no '@' cost one Arrow check; IBAN and NINO scans run only where
        an Arrow prefilter finds their shape."""
        n = len(texts)
        kinds = [k for k in KINDS if k in self.kinds and self._finders(k)]
        if not kinds:
            return [[] for _ in range(n)]
        cheap = [k for k in kinds if k not in PREFILTER]
        want = np.zeros(n, dtype=bool)
        if cheap:
            want |= pc.match_substring_regex(texts, r"[0-9@:]" if "presidio" not in cheap else r"\pL|[0-9@:]"
                                             ).to_numpy(zero_copy_only=False)
        extra: dict[str, np.ndarray] = {}
        for k in kinds:
            if k in PREFILTER:
                extra[k] = pc.match_substring_regex(texts, PREFILTER[k]).to_numpy(zero_copy_only=False)
                want |= extra[k]
        if values is None:
            values = texts.to_pylist()
        out: list[list[Span]] = [[] for _ in range(n)]
        for i in np.flatnonzero(want).tolist():
            these = cheap + [k for k, hit in extra.items() if hit[i]]
            out[i] = self.scan_text(values[i] or "", these)
        return out


def kind_of(key: str) -> str:
    """The count column's kind of a span's token key (us_ssn -> national_id, presidio:PERSON -> presidio)."""
    if key.startswith("presidio:"):
        return "presidio"
    return "national_id" if key in NATIONAL_FINDERS else key


def token_for(key: str, tokens: dict[str, str]) -> str:
    if key.startswith("presidio:"):
        return tokens.get("presidio", "<{entity}>").replace("{entity}", key.split(":", 1)[1])
    return tokens.get(key) or tokens.get(kind_of(key)) or f"<{key.upper()}>"


def redact(text: str, spans: Sequence[Span], tokens: dict[str, str]) -> str:
    """The text with every span replaced by its kind's token."""
    parts, pos = [], 0
    for a, b, key in spans:
        parts += [text[pos:a], token_for(key, tokens)]
        pos = b
    parts.append(text[pos:])
    return "".join(parts)
