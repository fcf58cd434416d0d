"""`Scanner`: finds PII and secrets in text and replaces them.

Two stages. Hyperscan, compiled once with every detector, reads the whole text in one pass and reports
where each detector's pattern can match; most content has no such place and costs only that pass. Python's
`re` then runs the exact pattern (with its boundaries) of just those detectors, on just those places, and
each match must pass the detector's check (Luhn, IBAN mod-97, ...) and miss the allow-list. With `ner:`
configured, a named-entity model adds names and places (`entities.py`); where it and a pattern find the same
text, the pattern's type wins.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple

import hyperscan

from llmtap.collector.wire import json_leaves, matches
from llmtap.processors.redact.config import RedactConfig
from llmtap.processors.redact.detectors import BUILT_IN, Detector

if TYPE_CHECKING:
    from llmtap.processors.redact.entities import EntityFinder

Places = dict[int, list[tuple[int, int]] | None]
"""Per detector, the (start, end) spans where it may match; None: anywhere."""

_MARGIN = 2
"""Characters after a located span that an exact pattern's lookahead may read."""
_MAX_SPANS = 256
"""Beyond this many located spans in one text, a detector is run over the whole text instead."""
_LEAF_SEPARATOR = "\n\x00\n"
"""Joins the strings of a JSON document into one text to scan; no built-in pattern crosses it."""


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
        self._exact = [re.compile(d.exact, re.ASCII | (re.IGNORECASE if d.ignore_case else 0)) for d in self.detectors]
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
        self._everywhere: list[int] = []
        self._anywhere: hyperscan.Database | None = None
        """Every detector, multi-line, for `clean`."""
        self._locator = self._compile()

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
                self._everywhere.append(i)
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
        Multi-line: `^` and `$` also match at each text's edges. False when that cannot be known this way (a
        custom pattern Hyperscan cannot compile, named entities)."""
        if self._everywhere or self.entities is not None:
            return False
        return self._anywhere is None or not matches(self._anywhere, text)  # None: no detector at all

    def locate(self, text: str) -> Places:
        """Where each detector may match in `text`: the leftmost start of each match Hyperscan found and the
        furthest end from that start. Detectors absent from the result match nowhere."""
        places: Places = {i: None for i in self._everywhere}
        if self._locator is None:
            return places
        data = text.encode("utf-8", "surrogatepass")
        reports: list[tuple[int, int, int]] = []
        self._locator.scan(data, match_event_handler=_reported, context=reports)
        if not reports:
            return places
        to_char: Callable[[int], int] = int if len(data) == len(text) else (
            lambda offset: len(data[:offset].decode("utf-8", "ignore")))
        furthest: dict[tuple[int, int], int] = {}
        for i, start, end in reports:
            key = (i, start)
            if furthest.get(key, -1) < end:
                furthest[key] = end
        for (i, start), end in furthest.items():
            spans = places.get(i, [])
            if spans is None:
                continue
            if len(spans) >= _MAX_SPANS:
                places[i] = None
                continue
            spans.append((max(to_char(start) - self.detectors[i].reach_back, 0), to_char(end)))
            places[i] = spans
        return places

    def find(self, text: str) -> list[Finding]:
        """The findings in `text`, without overlaps: the leftmost, then the longest, then the first detector."""
        places = self.locate(text)
        found: list[tuple[int, int, int, Finding]] = []
        length = len(text)
        for i, spans in places.items():
            detector = self.detectors[i]
            exact = self._exact[i]
            check = detector.check
            has_value = "v" in exact.groupindex
            for m in _matches(exact, text, spans, length, detector.reach_back > 0):
                start, end = m.span("v") if has_value else m.span()
                while detector.widen and start > 0 and (text[start - 1].isalnum() or text[start - 1] in "._%+-"):
                    start -= 1
                value = text[start:end]
                if start == end or (check is not None and not check(value)) or self._allowed(value):
                    continue
                found.append((start, start - end, i, Finding(detector.type, start, end, value)))
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


def _matches(exact: re.Pattern[str], text: str, spans: list[tuple[int, int]] | None, length: int,
             anywhere: bool) -> Iterator[re.Match[str]]:
    """The exact pattern's matches: anchored at each located start (where a match is leftmost), else the
    first one later in the located span; every match in the span where the start is only known to lie in
    it (`anywhere`); every match in the text for a detector located everywhere."""
    if spans is None:
        yield from exact.finditer(text)
        return
    for start, end in spans:
        endpos = min(end + _MARGIN, length)
        if anywhere:
            yield from exact.finditer(text, start, endpos)
            continue
        m = exact.match(text, start, endpos) or exact.search(text, start + 1, endpos)
        if m is not None:
            yield m
