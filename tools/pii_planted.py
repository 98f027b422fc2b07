"""Real text with planted personal data and look-alikes: the corpus tests/test_pii.py and benchmarks/pii.py
measure the PII detectors on.

Each document is a real sample document (sample_data/jsonl/documents.jsonl: Wikipedia-style texts in many
languages and PDF pages full of numbers) with sentences inserted at line boundaries: some carry personal
data of a known kind at known offsets (the truth), others a look-alike that is not personal data (version
numbers, dates, ISBNs, private and documentation IP ranges, order numbers, card numbers failing Luhn,
IBANs failing mod 97, SSNs in never-issued ranges, thousands-grouped counts). The values are generated
from a seed (valid where they must be: Luhn, mod 97, `phonenumbers`-valid numbers, public IP ranges), so
a corpus of any size has varied values. `tests/data/pii/natural.json` lists the personal data already
in the sample documents (reviewed by hand); a detection there is neither a hit nor a false alarm.
"""

from __future__ import annotations

import ipaddress
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NATURAL = ROOT / "tests" / "data" / "pii" / "natural.json"
KINDS = ("email", "ip", "phone", "card", "iban", "national_id")

FIRST = ["anna", "james", "li", "maria", "oskar", "fatima", "john", "emma", "pierre", "yuki", "sofia", "ahmed",
         "lukas", "chloe", "mateo", "ingrid"]
LAST = ["smith", "mueller", "dubois", "tanaka", "garcia", "nowak", "okafor", "johansson", "rossi", "kowalski",
        "brown", "martin"]
DOMAINS = ["gmail.com", "example-mail.de", "posteo.net", "company.co.uk", "uni-hamburg.de", "outlook.fr", "yahoo.com",
           "mail.example.org", "stadtwerke-bonn.de", "firm.com.au"]
TEMPLATES = {
    "email": ["For questions, write to {v}.", "Contact: {v}", "E-mail me at <{v}> if anything is unclear.",
              "Send your CV to {v} before Friday.", "Reviewer ({v}) approved the change.", "{v}"],
    "ip": ["The attack came from {v} last night.", "Server address: {v}", "Requests from {v} were blocked.",
           "ping {v}", "Her laptop had the address {v} on the hotel network."],
    "phone": ["Call us on {v} between 9 and 5.", "Phone: {v}", "Tel. {v}", "You can reach her at {v}.",
              "Phone number {v} (mobile)."],
    "card": ["Card number {v}, expiry 08/27.", "Paid with {v}.", "Visa {v}", "my credit card is {v} please refund"],
    "iban": ["Please transfer the fee to IBAN {v}.", "Account: {v}", "IBAN: {v} (BIC DEUTDEFF)", "Bank details {v}"],
    "national_id": ["SSN {v}", "His social security number is {v}.", "NI number {v}", "National Insurance: {v}."],
}


@dataclass
class Doc:
    """One corpus document: the text, planted truth spans (start, end, kind), look-alike spans (start, end,
    what), and the reviewed personal data of the base document (strings)."""

    base_id: str
    text: str
    truth: list[tuple[int, int, str]] = field(default_factory=list)
    decoys: list[tuple[int, int, str]] = field(default_factory=list)
    natural: list[str] = field(default_factory=list)


# -- values -------------------------------------------------------------------------------------------------

def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _card_digits(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("37", 15), ("34", 15),
                                 ("6011", 16), ("65", 16), ("3530", 16), ("62", 16), ("4", 13)])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + _luhn_digit(body)


def _format_card(digits: str, rng: random.Random) -> str:
    sep = rng.choice([" ", "-", ""])
    if len(digits) == 15:
        groups = [digits[:4], digits[4:10], digits[10:]]
    else:
        groups = [digits[i:i + 4] for i in range(0, len(digits), 4)]
    return sep.join(groups)


IBAN_BBAN = {"DE": "8n10n", "GB": "4a14n", "FR": "10n11c2n", "NL": "4a10n", "ES": "20n", "IT": "1a10n12c",
             "BE": "12n", "AT": "16n", "CH": "5n12c", "PL": "24n", "SE": "20n", "IE": "4a14n"}


def _iban(rng: random.Random, valid: bool = True) -> str:
    country = rng.choice(list(IBAN_BBAN))
    bban = ""
    spec = IBAN_BBAN[country]
    num = ""
    for ch in spec:
        if ch.isdigit():
            num += ch
            continue
        pool = {"n": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "c": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}[ch]
        bban += "".join(rng.choice(pool) for _ in range(int(num)))
        num = ""
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    if not valid:
        check = (check + rng.randint(1, 96) - 2) % 97 + 2  # any other pair of check digits
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.6:
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return compact


def _public_ip(rng: random.Random) -> str:
    while True:
        if rng.random() < 0.75:
            ip = ipaddress.IPv4Address(rng.getrandbits(32))
        else:
            ip = ipaddress.IPv6Address((rng.randint(0x2001, 0x2c0f) << 112) | rng.getrandbits(96))
        if ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local):
            return ip.compressed


def _phone(rng: random.Random) -> str:
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    national = rng.random() < 0.6
    region = rng.choice(["US", "GB", "DE", "FR"] if national else
                        ["US", "GB", "DE", "FR", "IT", "ES", "NL", "JP", "AU", "BR", "IN", "CH"])
    kind = rng.choice([PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE])
    example = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(region)
    digits = str(example.national_number)
    num = example
    for _ in range(100):
        tail = "".join(rng.choice("0123456789") for _ in range(4))
        cand = phonenumbers.PhoneNumber(country_code=example.country_code, national_number=int(digits[:-4] + tail),
                                        italian_leading_zero=example.italian_leading_zero,
                                        number_of_leading_zeros=example.number_of_leading_zeros)
        if phonenumbers.is_valid_number(cand):
            num = cand
            break
    fmt = PhoneNumberFormat.NATIONAL if national else PhoneNumberFormat.INTERNATIONAL
    text = phonenumbers.format_number(num, fmt)
    if region == "US" and national and rng.random() < 0.3:
        text = text.replace("(", "").replace(") ", "-")  # 415-555-2671
    return text


def _ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _nino(rng: random.Random) -> str:
    first, second = "ABCEGHJKLMNOPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"
    while True:
        prefix = rng.choice(first) + rng.choice(second)
        if prefix not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
            break
    d = "".join(rng.choice("0123456789") for _ in range(6))
    suffix = rng.choice("ABCD")
    return f"{prefix} {d[:2]} {d[2:4]} {d[4:]} {suffix}" if rng.random() < 0.5 else f"{prefix}{d}{suffix}"


def _email(rng: random.Random) -> str:
    f, last, dom = rng.choice(FIRST), rng.choice(LAST), rng.choice(DOMAINS)
    out = rng.choice([f"{f}.{last}", f"{f[0]}{last}", f"{f}_{last}{rng.randint(1, 99)}", f"{f}+news", f"{last}-{f}"]) + "@" + dom
    return out.title() if rng.random() < 0.1 else out


def pii_value(kind: str, rng: random.Random) -> tuple[str, str]:
    """(value, template) for a kind; national_id alternates between US SSNs and UK NINOs."""
    if kind == "national_id":
        us = rng.random() < 0.5
        return (_ssn(rng), rng.choice(TEMPLATES[kind][:2])) if us else (_nino(rng), rng.choice(TEMPLATES[kind][2:]))
    make = {"email": _email, "ip": _public_ip, "phone": _phone, "card": lambda r: _format_card(_card_digits(r), r),
            "iban": _iban}[kind]
    return make(rng), rng.choice(TEMPLATES[kind])


def _isbn13(rng: random.Random) -> str:
    body = "978" + "".join(rng.choice("0123456789") for _ in range(9))
    check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
    s = body + str(check)
    return f"{s[:3]}-{s[3]}-{s[4:7]}-{s[7:12]}-{s[12]}"


def decoy(rng: random.Random) -> tuple[str, str, str]:
    """(what, value, template) of a look-alike that no detector may report."""
    r = rng.randint
    what = rng.choice(["version", "date", "isbn", "private_ip", "order", "luhn_fail", "bad_iban", "bad_ssn", "count",
                       "decimal", "image", "zip"])
    if what == "version":
        v = ".".join(str(r(1, 20)) for _ in range(4))
        return what, v, rng.choice(["Upgrade to version {v} before installing.", "Fixed in v{v}.",
                                    "Firmware {v} is required.", "release {v} notes"])
    if what == "date":
        y, m, d = r(1990, 2030), r(1, 12), r(1, 28)
        v = rng.choice([f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}", f"{m:02d}/{d:02d}/{y}",
                        f"{y}-{m:02d}-{d:02d} {r(0, 23):02d}:{r(0, 59):02d}:{r(0, 59):02d}"])
        return what, v, rng.choice(["The meeting was held on {v}.", "Updated {v}", "Deadline: {v}."])
    if what == "isbn":
        return what, _isbn13(rng), rng.choice(["ISBN {v}", "(ISBN {v})", "See the book, ISBN {v}, chapter 3."])
    if what == "private_ip":
        v = rng.choice([f"10.{r(0, 255)}.{r(0, 255)}.{r(1, 254)}", f"192.168.{r(0, 255)}.{r(1, 254)}",
                        f"172.{r(16, 31)}.{r(0, 255)}.{r(1, 254)}", "127.0.0.1", f"169.254.{r(0, 255)}.{r(1, 254)}",
                        f"192.0.2.{r(1, 254)}", f"198.51.100.{r(1, 254)}", f"203.0.113.{r(1, 254)}",
                        f"100.{r(64, 127)}.{r(0, 255)}.{r(1, 254)}", "fe80::1ff:fe23:4567:890a",
                        f"2001:db8::{r(1, 0xffff):x}", "::1", f"fc00::{r(1, 0xffff):x}"])
        return what, v, rng.choice(["The router is at {v}.", "Set the gateway to {v}", "ssh admin@{v} -p 22"])
    if what == "order":
        body = rng.choice("456") + "".join(rng.choice("0123456789") for _ in range(14))
        v = body + _luhn_digit(body)  # Luhn-valid on purpose: only the context says it is no card
        return what, v, rng.choice(["Order #{v} has shipped.", "Invoice no. {v}", "Tracking number: {v}",
                                    "Order number {v} was cancelled."])
    if what == "luhn_fail":
        d = _card_digits(rng)
        d = d[:-1] + str((int(d[-1]) + r(1, 9)) % 10)
        return what, _format_card(d, rng), rng.choice(["Card number {v}, expiry 08/27.", "Paid with {v}."])
    if what == "bad_iban":
        return what, _iban(rng, valid=False), rng.choice(["Please transfer the fee to IBAN {v}.", "IBAN: {v}"])
    if what == "bad_ssn":
        v = rng.choice([f"000-{r(1, 99):02d}-{r(1, 9999):04d}", f"666-{r(1, 99):02d}-{r(1, 9999):04d}",
                        f"{r(900, 999)}-{r(1, 99):02d}-{r(1, 9999):04d}", f"{r(1, 665):03d}-00-{r(1, 9999):04d}",
                        f"{r(1, 665):03d}-{r(1, 99):02d}-0000"])
        return what, v, "SSN {v}"
    if what == "count":
        v = f"{r(1, 9)} {r(0, 999):03d} {r(0, 999):03d}"
        return what, v, rng.choice(["The city had {v} inhabitants.", "Population: {v}"])
    if what == "decimal":
        v = f"{r(0, 99)}.{r(100000, 999999)}"
        return what, v, rng.choice(["The measured value was {v} (103).", "x = {v}"])
    if what == "image":
        return what, f"{rng.choice(['logo', 'icon', 'banner'])}@{r(2, 3)}x.{rng.choice(['png', 'jpg', 'webp'])}", \
            "<img src=\"/static/{v}\">"
    v = f"{r(10000, 99999)}-{r(1000, 9999)}"
    return "zip", v, "Portland, OR {v}"


# -- the corpus ---------------------------------------------------------------------------------------------

def base_documents() -> list[dict]:
    lines = (ROOT / "sample_data" / "jsonl" / "documents.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def natural() -> dict[str, list[str]]:
    return json.loads(NATURAL.read_text(encoding="utf-8"))


def generate(n_docs: int, seed: int = 0, pii_per_doc: int = 2, decoys_per_doc: int = 2,
             kinds: tuple[str, ...] = KINDS) -> list[Doc]:
    """`n_docs` documents over the sample documents (round robin), each with `pii_per_doc` planted values
    (kinds in turn, so each kind gets the same share) and `decoys_per_doc` look-alikes."""
    rng = random.Random(seed)
    bases = base_documents()
    known = natural()
    out = []
    k = 0
    for i in range(n_docs):
        base = bases[i % len(bases)]
        lines = base["text"].split("\n")
        inserts: list[tuple[str, str, str]] = []  # (label kind/decoy:what, value, template)
        for _ in range(pii_per_doc):
            kind = kinds[k % len(kinds)]
            k += 1
            value, template = pii_value(kind, rng)
            inserts.append((kind, value, template))
        for _ in range(decoys_per_doc):
            what, value, template = decoy(rng)
            inserts.append((f"decoy:{what}", value, template))
        slots = sorted(rng.randint(0, len(lines)) for _ in inserts)
        rng.shuffle(inserts)
        doc = Doc(base["id"], "", natural=known.get(base["id"], []))
        parts: list[str] = []
        j = 0
        for li in range(len(lines) + 1):
            while j < len(inserts) and slots[j] == li:
                label, value, template = inserts[j]
                before, after = template.split("{v}")
                parts.append(before)
                pos = sum(map(len, parts))
                span = (pos, pos + len(value))
                parts.append(value + after + "\n")
                if label.startswith("decoy:"):
                    doc.decoys.append((*span, label[6:]))
                else:
                    doc.truth.append((*span, label))
                j += 1
            if li < len(lines):
                parts.append(lines[li] + ("\n" if li < len(lines) - 1 or j < len(inserts) else ""))
        doc.text = "".join(parts)
        out.append(doc)
    return out


# -- scoring ------------------------------------------------------------------------------------------------

def evaluate(docs: list[Doc], found: list[list[tuple[int, int, str]]]) -> dict:
    """Per kind: true positives (a detection with exactly a planted span and kind), false positives (any
    other detection, except reviewed natural data of the base document) and false negatives; and the
    look-alikes some detection touched."""
    from curation.stages.annotate.pii import kind_of

    stats = {k: {"tp": 0, "fp": 0, "fn": 0} for k in KINDS}
    decoy_hits: list[tuple[str, str]] = []
    natural_hits = 0
    fp_examples: list[tuple[str, str, str]] = []
    for doc, spans in zip(docs, found, strict=True):
        truth = {(a, b): k for a, b, k in doc.truth}
        hit = set()
        for a, b, key in spans:
            kind = kind_of(key)
            if truth.get((a, b)) == kind:
                stats[kind]["tp"] += 1
                hit.add((a, b))
                continue
            for da, db, what in doc.decoys:
                if a < db and da < b:
                    decoy_hits.append((what, doc.text[da:db]))
            if doc.text[a:b] in doc.natural:
                natural_hits += 1
                continue
            stats.setdefault(kind, {"tp": 0, "fp": 0, "fn": 0})["fp"] += 1
            fp_examples.append((kind, doc.text[a:b], doc.text[max(0, a - 30):a]))
        for (a, b), kind in truth.items():
            if (a, b) not in hit:
                stats[kind]["fn"] += 1
    for s in stats.values():
        s["precision"] = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else float("nan")
        s["recall"] = s["tp"] / (s["tp"] + s["fn"]) if s["tp"] + s["fn"] else float("nan")
    return {"kinds": stats, "decoy_hits": decoy_hits, "natural_hits": natural_hits, "fp_examples": fp_examples}
