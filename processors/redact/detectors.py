"""The built-in detectors: what each kind of PII or secret looks like, and the check a match must pass.

A detector's `core` is what the value itself looks like, in the syntax PCRE2, Python's `re` and Hyperscan share
(no lookarounds, no backreferences). `before` and `after` are the boundaries around it, as lookarounds, which
only the exact pattern has. Hyperscan reports every place a pattern can end, so `end` (a character that may
follow the value, or the end of the text) keeps it to one report per value for patterns of unbounded length,
and `start` (a character that may precede it, or the start of the text) keeps Hyperscan from tracking a start
at every digit of a digit run, which costs it most of its time.
Where a value is only PII in context (a 9-digit SSN, a date of birth, a bare phone number), the keyword is
part of `core` and the value is the group named `v`. The checks are in `_match.c`, each with its rule.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Detector:
    type: str
    core: str
    before: str = ""
    after: str = ""
    end: str = ""
    start: str = ""
    check: str = ""
    """The check (in `_match.c`) a match must also pass: `card` (Luhn, 12 to 19 digits, an issuer prefix),
    `iban` (the country's length, mod-97), `ssn` (numbers the SSA issues), `ipv4` (no leading zeros), `ipv6`
    (valid, three groups written out), `phone` (digit counts and groupings phones have and dates, decimals,
    versions and card numbers do not), `secret` (long, mixed, 3 bits of entropy per character), `password`,
    `birth_date` (a real date from 1900 to this year)."""
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
        """The pattern (PCRE2) that confirms a match where Hyperscan found one may be."""
        return f"{self.before}(?:{self.core}){self.after}"

    @property
    def locate(self) -> str:
        """The pattern Hyperscan finds candidates with: a match of `exact` lies within one of its matches."""
        return f"{self.start}(?:{self.anchor or self.core}){self.end}"


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
             after=r"(?!\w)", start=r"(?:^|\W)", end=r"(?:\W|$)", check="iban"),
    Detector("CREDIT_CARD", r"\d{4}[ -]?\d{4}[ -]?\d{4}(?:[ -]?\d{1,7})?|\d{4}[ -]?\d{6}[ -]?\d{4,5}",
             before=r"(?<![\w-])", after=_E, start=r"(?:^|[^\w-])", end=_NOT_WORD, check="card"),
    Detector("US_SSN", r"\d{3}[- ]\d{2}[- ]\d{4}", before=r"(?<![\w-])", after=_E, end=_NOT_WORD, check="ssn"),
    Detector("US_SSN", r"(?:ssn|social security(?: number)?|ss#)\s*(?:#|no\.?|number)?\s*[:=]?\s*(?P<v>\d{9})",
             before=r"\b", after=r"(?!\w)", end=r"(?:\W|$)", ignore_case=True, check="ssn"),
    Detector("DATE_OF_BIRTH", r"(?:date of birth|birth ?date|birthday|d\.?o\.?b\.?|born(?: on)?)\s*(?:is|was)?\s*"
                              r"[:\-]?\s*(?P<v>" + _DATE + r")", before=r"\b", after=r"(?![\w/-])",
             end=r"(?:[^\w/-]|$)", ignore_case=True, check="birth_date"),
    Detector("IP_ADDRESS", r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)",
             before=r"(?<![\w.])", after=r"(?![\w]|\.\d)", check="ipv4"),
    Detector("IP_ADDRESS", r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})",
             before=r"(?<![\w:])", after=r"(?![\w:.])", end=r"(?:[^\w:.]|$)", check="ipv6"),
    Detector("PHONE", r"(?:\+|\b00)?\(?\d[\d(). -]{5,22}\d(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?",
             before=r"(?<![\w+/.:,$€£-])", after=r"(?![\w/:-]|[.,-]\d)", start=r"(?:^|[^\w+/.:,$-])",
             end=r"(?:[^\w/:-]|$)", check="phone"),
    Detector("PHONE", r"(?:phone|tel|telephone|mobile|cell|call|fax|whatsapp|sms)(?:\s*(?:number|no\.?|#))?"
                      r"\s*(?:me\s+)?(?:is|at|on)?\s*[:=]?\s*(?P<v>\+?\d{7,15})", before=r"\b", after=r"(?!\w)",
             end=r"(?:\W|$)", ignore_case=True),
    Detector("SECRET", r"(?:passw(?:or)?d|passwd|pwd)[\w-]{0,20}" + _KEYWORD_SEP + r"(?P<v>[^\s\"',;\\]{4,})",
             before=r"(?<![A-Za-z0-9])", end=_VALUE_END, ignore_case=True, check="password"),
    Detector("SECRET", r"(?:api[_-]?key|apikey|secret|token|auth|access[_-]?key|private[_-]?key|credential)[\w-]{0,20}"
                       + _KEYWORD_SEP + r"(?P<v>[^\s\"',;\\]{8,})", before=r"(?<![A-Za-z0-9])", end=_VALUE_END,
             ignore_case=True, check="secret"),
    Detector("SECRET", r"bearer\s+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)", before=r"\b", end=r"(?:[^A-Za-z0-9._~+/=-]|$)",
             ignore_case=True, check="secret"),
)
"""In priority order: where two findings start at the same place and are as long, the earlier one names it."""
