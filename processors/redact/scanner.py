"""`Scanner`: finds PII and secrets in text and replaces them.

Two stages. Hyperscan, compiled once with every detector, reads the whole text in one pass and reports
where each detector's pattern can match; most content has no such place and costs only that pass. Then, in
one call to `_match.c`, PCRE2 runs the exact pattern (with its boundaries) of just those detectors, on just
those places, and each match must pass the detector's check (Luhn, IBAN mod-97, ...); here it must also miss
the allow-list. With `ner:` configured, a named-entity model adds names and places (`entities.py`); where it
and a pattern find the same text, the pattern's type wins.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import hyperscan

from llmtap.collector.wire import json_leaves, matches
from llmtap.processors.redact._match import Matcher
from llmtap.processors.redact.config import RedactConfig
from llmtap.processors.redact.detectors import BUILT_IN, Detector

if TYPE_CHECKING:
    from llmtap.processors.redact.entities import EntityFinder

_LEAF_SEPARATOR = "\n\x00\n"
"""What `wire.json_leaves` and `wire.content_text` put after each string they join into one text to scan;
no built-in pattern crosses it."""


class Finding(NamedTuple):
    """One value found: its type and where it is (a tuple: made for every match, so it must be cheap)."""

    type: str
    start: int
    end: int
    value: str


def _reported(detector_id: int, start: int, end: int, flags: int, reports: object) -> None:
    reports.append((detector_id, start, end))  # type: ignore[attr-defined]


def _words(value: str) -> str:
    """A name or place as its case-folded words: `Maria  Garcia` and `maria garcia` are one person."""
    return " ".join(value.casefold().split())


_NORMALIZE: dict[str, Callable[[str], str]] = {
    "EMAIL": str.lower,
    "IBAN": lambda v: v.replace(" ", "").upper(),
    "CREDIT_CARD": lambda v: re.sub(r"\D", "", v),
    "US_SSN": lambda v: re.sub(r"\D", "", v),
    "PHONE": lambda v: re.sub(r"[^\d+]", "", v),
    "PERSON": _words,
    "LOCATION": _words,
}
"""One spelling per value before hashing, so `A@x.com` and `a@x.com` get one hash."""


class Scanner:
    def __init__(self, config: RedactConfig):
        custom = [Detector(p.type, p.regex, ignore_case=p.ignore_case) for p in config.patterns]
        self.detectors = [*custom, *(d for d in BUILT_IN if d.type not in config.disable)]
        self._matcher = Matcher([(d.exact, d.ignore_case, d.reach_back, d.widen, d.check) for d in self.detectors])
        self._types = [d.type for d in self.detectors]
        self.entities: EntityFinder | None = None
        if config.ner is not None:
            from llmtap.processors.redact.entities import EntityFinder

            finder = EntityFinder(config.ner, config.disable)
            self.entities = finder if finder.types else None
        types = [*(d.type for d in self.detectors), *(self.entities.types if self.entities else ())]
        self._actions = {t: config.actions.get(t, config.default_action) for t in types}
        self._key = config.hash_key.encode()
        self._allow = {v.lower() for v in config.allow}
        self._allow_patterns = [re.compile(p) for p in config.allow_patterns]
        self._everywhere: tuple[int, ...] = ()
        self._anywhere: hyperscan.Database | None = None
        """Every detector, multi-line, for `clean`."""
        self._locator = self._compile()
        self.provable = not config.patterns and self.entities is None and not self._everywhere
        """Whether `clean` can prove that texts have nothing to redact: not with custom patterns (they may anchor
        to a whole text, which the joined texts are not), a pattern Hyperscan cannot compile, or a model."""

    def _compile(self) -> hyperscan.Database | None:
        """One database that reports where each detector matches (leftmost start, every end), and one for
        `clean` that only says whether any detector matches at all, which costs Hyperscan less. A custom
        pattern Hyperscan cannot compile (lookarounds, backreferences) is run over every text."""
        ids, expressions, caseless = [], [], []
        for i, d in enumerate(self.detectors):
            flag = hyperscan.HS_FLAG_CASELESS if d.ignore_case else 0
            try:
                hyperscan.Database().compile(expressions=[d.locate.encode()], ids=[i], elements=1, flags=[flag])
            except hyperscan.error:
                self._everywhere += (i,)
                continue
            ids.append(i)
            expressions.append(d.locate.encode())
            caseless.append(flag)
        if not ids:
            return None
        locator = hyperscan.Database()
        locator.compile(expressions=expressions, ids=ids, elements=len(ids),
                        flags=[f | hyperscan.HS_FLAG_SOM_LEFTMOST for f in caseless])
        if not self._everywhere:
            self._anywhere = hyperscan.Database()
            self._anywhere.compile(expressions=expressions, ids=ids, elements=len(ids), flags=[
                f | hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY | hyperscan.HS_FLAG_MULTILINE
                for f in caseless])
        return locator

    def clean(self, text: bytes) -> bool:
        """True when no detector can match anywhere in `text` (UTF-8: many texts, each followed by
        `_LEAF_SEPARATOR`, such as `wire.content_text` returns), so none of them has anything to redact.
        Multi-line: `^` and `$` also match at each text's edges. False when that cannot be known this way
        (`provable`)."""
        if not self.provable:
            return False
        return self._anywhere is None or not matches(self._anywhere, text)  # None: no detector at all

    def find(self, text: str) -> list[Finding]:
        """The findings in `text`, without overlaps: the leftmost, then the longest, then the first detector."""
        data = text.encode("utf-8", "surrogatepass")
        reports: list[tuple[int, int, int]] = []
        if self._locator is not None:
            self._locator.scan(data, match_event_handler=_reported, context=reports)
        found: list[tuple[int, int, int, Finding]] = []
        if reports or self._everywhere:
            types = self._types
            for start, end, i in self._matcher.find(text, data, reports, self._everywhere):
                value = text[start:end]
                if not self._allowed(value):
                    found.append((start, start - end, i, Finding(types[i], start, end, value)))
        if self.entities is not None:
            after = len(self.detectors)  # a pattern finding wins a tie with an entity
            for n, (kind, start, end) in enumerate(self.entities.find(text), after):
                value = text[start:end]
                if start < end and not self._allowed(value):
                    found.append((start, start - end, n, Finding(kind, start, end, value)))
        if len(found) > 1:
            found.sort()
        findings: list[Finding] = []
        for _, _, _, finding in found:
            if not findings or finding.start >= findings[-1].end:
                findings.append(finding)
        return findings

    def _allowed(self, value: str) -> bool:
        if not (self._allow or self._allow_patterns):
            return False
        return value.lower() in self._allow or any(p.fullmatch(value) for p in self._allow_patterns)

    def replacement(self, finding: Finding) -> str | None:
        """What stands in the finding's place; None to keep it."""
        action = self._actions.get(finding.type, "redact")
        if action == "keep":
            return None
        if action == "hash":
            normalized = _NORMALIZE.get(finding.type, str.strip)(finding.value)
            digest = hmac.new(self._key, normalized.encode(), hashlib.sha256).hexdigest()[:8]
            return f"<{finding.type}:{digest}>"
        return f"<{finding.type}>"

    def _replace(self, text: str, findings: list[Finding], offset: int = 0) -> str:
        out: list[str] = []
        at = 0
        for finding in findings:
            replacement = self.replacement(finding)
            if replacement is not None:
                out.append(text[at:finding.start - offset])
                out.append(replacement)
                at = finding.end - offset
        out.append(text[at:])
        return "".join(out)

    def redact_text(self, text: str) -> tuple[str, list[Finding]]:
        findings = self.find(text)
        return (self._replace(text, findings) if findings else text), findings

    def redact(self, value: str) -> tuple[str, list[Finding]]:
        """Redact an attribute value. In a JSON document (a message array, tool arguments) each string value
        is redacted as a text of its own and written back in place, so the result is still valid JSON of the
        same shape, its keys, numbers and layout untouched. Findings in a document are placed in their string."""
        if value.lstrip()[:1] not in ("[", "{"):
            return self.redact_text(value)
        document = json_leaves(value)
        if document is None:  # not JSON
            return self.redact_text(value)
        joined, bounds = document
        findings = self.find(joined)
        if not findings:
            return value, []
        starts = bounds[2::4]
        by_leaf: dict[int, list[Finding]] = {}
        kept: list[Finding] = []
        for f in findings:
            n = bisect.bisect_right(starts, f.start) - 1
            leaf_start, leaf_end = bounds[4 * n + 2], bounds[4 * n + 3]
            if f.end <= leaf_end:  # the separator stops every built-in pattern; a custom one may cross it
                by_leaf.setdefault(n, []).append(f)
                kept.append(Finding(f.type, f.start - leaf_start, f.end - leaf_start, f.value))
        out: list[str] = []
        at = 0
        for n, found in by_leaf.items():
            raw_start, raw_end, leaf_start, leaf_end = bounds[4 * n: 4 * n + 4]
            out.append(value[at:raw_start])
            out.append(json.dumps(self._replace(joined[leaf_start:leaf_end], found, leaf_start),
                                  ensure_ascii=False)[1:-1])
            at = raw_end
        out.append(value[at:])
        return "".join(out), kept
