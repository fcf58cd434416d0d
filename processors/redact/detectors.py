"""The built-in detectors: what each kind of PII or secret looks like, and the check a match must pass.

A detector's `core` is what the value itself looks like, in the syntax Python's `re` and Hyperscan share
(no lookarounds, no backreferences). `before` and `after` are the boundaries around it, as lookarounds for
Python only. Hyperscan reports every place a pattern can end, so `end` (a character that may follow the
value, or the end of the text) keeps it to one report per value for patterns of unbounded length. Where a
value is only PII in context (a 9-digit SSN, a date of birth, a bare phone number), the keyword is part of
`core` and the value is the group named `v`.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

Check = Callable[[str], bool]


@dataclass(frozen=True)
class Detector:
    type: str
    core: str
    before: str = ""
    after: str = ""
    end: str = ""
    check: Check | None = None
    ignore_case: bool = False
    widen: bool = False
    """Extend the match left over letters outside ASCII (`jürgen@` is one address, not `rgen@`)."""
    anchor: str = ""
    """Where Hyperscan's report starts instead of `core` (an email's `@`): a leading pattern that can start
    at any letter makes Hyperscan track too many starts. The exact pattern is then searched for from up to
    `reach_back` characters before it."""
    reach_back: int = 0

    @property
    def exact(self) -> str:
        """The pattern Python's `re` confirms a match with."""
        return f"{self.before}(?:{self.core}){self.after}"

    @property
    def locate(self) -> str:
        """The pattern Hyperscan finds candidates with: a match of `exact` lies within one of its matches."""
        return f"(?:{self.anchor or self.core}){self.end}"


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"4|5[0-9]|6[0-9]|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[04-9]")


def _one_separator(value: str) -> bool:
    return not (" " in value and "-" in value)


def card(value: str) -> bool:
    """Luhn-valid, 12 to 19 digits, and an issuer prefix a card network uses (half of random digit runs
    that pass Luhn by chance start with a digit no network issues)."""
    digits = value.replace(" ", "").replace("-", "")
    return (12 <= len(digits) <= 19 and _one_separator(value) and _CARD_PREFIX.match(digits) is not None
            and luhn(digits))


IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
"""IBAN length per country (ISO 13616 registry)."""


def iban(value: str) -> bool:
    """The registered length for its country and the ISO 7064 mod-97 checksum."""
    s = value.replace(" ", "")
    if IBAN_LENGTHS.get(s[:2], 0) != len(s):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def ssn(value: str) -> bool:
    """Numbers the SSA never issues: area 000, 666 or 9xx, group 00, serial 0000."""
    d = value.replace("-", "").replace(" ", "")
    return _one_separator(value) and d[:3] not in ("000", "666") and d[0] != "9" and d[3:5] != "00" and d[5:] != "0000"


def ipv4(value: str) -> bool:
    return all(len(p) == 1 or p[0] != "0" for p in value.split("."))


def ipv6(value: str) -> bool:
    """A valid address with at least three groups written out (or the loopback `::1`): C++'s `a::b` is
    valid IPv6 text too."""
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return value == "::1" or sum(1 for g in value.split(":") if g) >= 3


_DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
_SSN_LIKE = re.compile(r"\d{3}([- ])\d{2}\1\d{4}")
_PHONE_SEPARATORS = re.compile(r"[ .()\-]+")
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension)\s*\d")


def phone(value: str) -> bool:
    """Told apart from the other digit runs of LLM traffic: 8 to 15 digits in international form
    (`+`/`00`), or 7 to 12 written in groups that dates, decimals, versions and card numbers do not have."""
    core: str = _EXTENSION.split(value, maxsplit=1)[0].strip()
    digits = sum(map(str.isdigit, core))
    if core.startswith("+") or (core.startswith("00") and core[2:3] not in ("", "0")):
        return 8 <= digits <= 15
    if not 7 <= digits <= 12 or _DATE_LIKE.fullmatch(core) or _SSN_LIKE.fullmatch(core):
        return False
    if "(" in core:
        return core.count("(") == core.count(")")
    groups = [g for g in _PHONE_SEPARATORS.split(core) if g]
    if len(groups) < 2:
        return False
    if "." in core and (len(groups) != 3 or len(groups[0]) < (2 if core[0] == "0" else 3)):
        return False  # decimals and versions: 3.14, 1.2.3, not 206.269.0743 or 02.8023.0025
    if core[0] != "0" and max(len(g) for g in groups) > 5:
        return False
    if max(len(g) for g in groups) <= 2:  # 07 88 35 33 74 (France), not a list of small numbers
        return core[0] == "0" and len(groups) == 5
    return True


def secret(value: str) -> bool:
    """A value after `key=`/`token:` that looks generated: long and mixed enough that it is not a word,
    a number or a setting (`max_tokens: 4096`, `auth: required`)."""
    if len(value) < 8 or value.lower() in ("true", "false", "null", "none", "required", "optional"):
        return False
    classes = sum((any(map(str.islower, value)), any(map(str.isupper, value)), any(map(str.isdigit, value)),
                   not value.isalnum()))
    if classes < 2 or (value.isdigit()):
        return False
    size = len(value)
    entropy = -sum(n / size * math.log2(n / size) for n in Counter(value).values())
    return entropy >= 3.0


def password(value: str) -> bool:
    return len(value) >= 4 and value.lower() not in ("none", "null", "true", "false", "required", "****", "*****")


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def birth_date(value: str) -> bool:
    """A real calendar date in a year someone alive could be born."""
    text = value.lower().replace(",", " ").replace(".", " ")
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    month_name = next((i + 1 for i, m in enumerate(_MONTHS) if m in text), None)
    try:
        if month_name is not None:
            day = next(n for n in numbers if n <= 31)
            year = next(n for n in numbers if n > 31)
            born = date(year, month_name, day)
        elif len(numbers) == 3 and numbers[0] > 31:
            born = date(numbers[0], numbers[1], numbers[2])
        elif len(numbers) == 3:
            year = numbers[2] + (1900 if numbers[2] >= 30 else 2000) if numbers[2] < 100 else numbers[2]
            first, second = numbers[0], numbers[1]
            month, day = (first, second) if first <= 12 else (second, first)
            born = date(year, month, day)
        else:
            return False
    except (ValueError, StopIteration):
        return False
    return 1900 <= born.year <= date.today().year


_B = r"(?<![\w.+%-])"
_E = r"(?![\w-]|\.\d)"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|" + _MONTH + r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
         r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r",?\s+\d{4})")
_KEYWORD_SEP = r"""\\?["']?\s*[:=]\s*\\?["']?"""
_NOT_WORD = r"(?:[^\w-]|$)"
_VALUE_END = r"""(?:[\s"',;\\]|$)"""

BUILT_IN: tuple[Detector, ...] = (
    Detector("PRIVATE_KEY", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s\\:,.-]*?"
                            r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)"),
    Detector("URL_CREDENTIALS", r"[a-z][a-z0-9+.-]{1,20}://(?P<v>[^\s/:@'\"<>]+:[^\s/@'\"<>]+)@",
             before=r"(?<![\w+.-])", ignore_case=True),
    Detector("JWT", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}", before=r"(?<![\w-])",
             after=r"(?![\w-])", end=_NOT_WORD),
    Detector("API_KEY", r"(?:sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"
                        r"|(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"
                        r"|(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"
                        r"|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}"
                        r"|(?:sk|rk)_live_[A-Za-z0-9]{16,}"
                        r"|hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+)",
             before=r"(?<![\w-])", after=r"(?![\w-])", end=_NOT_WORD),
    Detector("EMAIL", r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}",
             before=_B, after=r"(?![\w-])", end=_NOT_WORD, widen=True,
             anchor=r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}", reach_back=64),
    Detector("IBAN", r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?", before=r"(?<!\w)",
             after=r"(?!\w)", end=r"(?:\W|$)", check=iban),
    Detector("CREDIT_CARD", r"\d{4}[ -]?\d{4}[ -]?\d{4}(?:[ -]?\d{1,7})?|\d{4}[ -]?\d{6}[ -]?\d{4,5}",
             before=r"(?<![\w-])", after=_E, end=_NOT_WORD, check=card),
    Detector("US_SSN", r"\d{3}[- ]\d{2}[- ]\d{4}", before=r"(?<![\w-])", after=_E, end=_NOT_WORD, check=ssn),
    Detector("US_SSN", r"(?:ssn|social security(?: number)?|ss#)\s*(?:#|no\.?|number)?\s*[:=]?\s*(?P<v>\d{9})",
             before=r"\b", after=r"(?!\w)", end=r"(?:\W|$)", ignore_case=True, check=ssn),
    Detector("DATE_OF_BIRTH", r"(?:date of birth|birth ?date|birthday|d\.?o\.?b\.?|born(?: on)?)\s*(?:is|was)?\s*"
                              r"[:\-]?\s*(?P<v>" + _DATE + r")", before=r"\b", after=r"(?![\w/-])",
             end=r"(?:[^\w/-]|$)", ignore_case=True, check=birth_date),
    Detector("IP_ADDRESS", r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)",
             before=r"(?<![\w.])", after=r"(?![\w]|\.\d)", check=ipv4),
    Detector("IP_ADDRESS", r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})",
             before=r"(?<![\w:])", after=r"(?![\w:.])", end=r"(?:[^\w:.]|$)", check=ipv6),
    Detector("PHONE", r"(?:\+|\b00)?\(?\d[\d(). -]{5,22}\d(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?",
             before=r"(?<![\w+/.:,$€£-])", after=r"(?![\w/:-]|[.,-]\d)", end=r"(?:[^\w/:-]|$)", check=phone),
    Detector("PHONE", r"(?:phone|tel|telephone|mobile|cell|call|fax|whatsapp|sms)(?:\s*(?:number|no\.?|#))?"
                      r"\s*(?:me\s+)?(?:is|at|on)?\s*[:=]?\s*(?P<v>\+?\d{7,15})", before=r"\b", after=r"(?!\w)",
             end=r"(?:\W|$)", ignore_case=True),
    Detector("SECRET", r"(?:passw(?:or)?d|passwd|pwd)[\w-]{0,20}" + _KEYWORD_SEP + r"(?P<v>[^\s\"',;\\]{4,})",
             before=r"(?<![A-Za-z0-9])", end=_VALUE_END, ignore_case=True, check=password),
    Detector("SECRET", r"(?:api[_-]?key|apikey|secret|token|auth|access[_-]?key|private[_-]?key|credential)[\w-]{0,20}"
                       + _KEYWORD_SEP + r"(?P<v>[^\s\"',;\\]{8,})", before=r"(?<![A-Za-z0-9])", end=_VALUE_END,
             ignore_case=True, check=secret),
    Detector("SECRET", r"bearer\s+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)", before=r"\b", end=r"(?:[^A-Za-z0-9._~+/=-]|$)",
             ignore_case=True, check=secret),
)
"""In priority order: where two findings start at the same place and are as long, the earlier one names it."""
