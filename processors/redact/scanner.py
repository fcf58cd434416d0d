"""`Scanner`: finds PII and secrets in text and replaces them.

Two stages. Hyperscan, compiled once with every detector in prefilter mode, reads the whole value in one
pass and says which detectors can match at all; most content matches none and costs only that pass. Then
Python's `re` runs the exact pattern (with its boundaries) of just those detectors, and each match must pass
the detector's check (Luhn, IBAN mod-97, ...) and miss the allow-list.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hyperscan

from llmtap.processors.redact.config import RedactConfig
from llmtap.processors.redact.detectors import BUILT_IN, Detector


@dataclass(frozen=True)
class Finding:
    type: str
    start: int
    end: int
    value: str


def _fired(detector_id: int, start: int, end: int, flags: int, fired: object) -> None:
    fired.add(detector_id)  # type: ignore[attr-defined]


_NORMALIZE: dict[str, Callable[[str], str]] = {
    "EMAIL": str.lower,
    "IBAN": lambda v: v.replace(" ", "").upper(),
    "CREDIT_CARD": lambda v: re.sub(r"\D", "", v),
    "US_SSN": lambda v: re.sub(r"\D", "", v),
    "PHONE": lambda v: re.sub(r"[^\d+]", "", v),
}
"""One spelling per value before hashing, so `A@x.com` and `a@x.com` get one hash."""


class Scanner:
    def __init__(self, config: RedactConfig):
        custom = [Detector(p.type, p.regex, ignore_case=p.ignore_case) for p in config.patterns]
        self.detectors = [*custom, *(d for d in BUILT_IN if d.type not in config.disable)]
        self._exact = [re.compile(d.exact, re.IGNORECASE if d.ignore_case else 0) for d in self.detectors]
        self._actions = {d.type: config.actions.get(d.type, config.default_action) for d in self.detectors}
        self._key = config.hash_key.encode()
        self._allow = {v.lower() for v in config.allow}
        self._allow_patterns = [re.compile(p) for p in config.allow_patterns]
        self._always: set[int] = set()
        self._database = self._compile()

    def _compile(self) -> hyperscan.Database:
        """One prefilter database; a custom pattern Hyperscan cannot approximate is run on every value."""
        ids, expressions, flags = [], [], []
        for i, d in enumerate(self.detectors):
            flag = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY
            if d.ignore_case:
                flag |= hyperscan.HS_FLAG_CASELESS
            try:
                probe = hyperscan.Database()
                probe.compile(expressions=[d.core.encode()], ids=[i], elements=1, flags=[flag])
            except hyperscan.error:
                self._always.add(i)
                continue
            ids.append(i)
            expressions.append(d.core.encode())
            flags.append(flag)
        database = hyperscan.Database()
        if expressions:
            database.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
        return database

    def candidates(self, text: str) -> set[int]:
        """The detectors that may match somewhere in `text` (a superset of those that do)."""
        fired = set(self._always)
        if len(fired) < len(self.detectors):
            self._database.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=_fired, context=fired)
        return fired

    def find(self, text: str, candidates: set[int] | None = None) -> list[Finding]:
        """The findings in `text`, without overlaps: the leftmost, then the longest, then the first detector."""
        if candidates is None:
            candidates = self.candidates(text)
        found: list[tuple[int, int, int, Finding]] = []
        for i in candidates:
            detector = self.detectors[i]
            for m in self._exact[i].finditer(text):
                start, end = m.span("v") if "v" in m.re.groupindex else m.span()
                value = text[start:end]
                if start == end or (detector.check is not None and not detector.check(value)) or self._allowed(value):
                    continue
                found.append((start, start - end, i, Finding(detector.type, start, end, value)))
        if len(found) > 1:
            found.sort()
        findings: list[Finding] = []
        for _, _, _, finding in found:
            if not findings or finding.start >= findings[-1].end:
                findings.append(finding)
        return findings

    def _allowed(self, value: str) -> bool:
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

    def redact_text(self, text: str, candidates: set[int] | None = None) -> tuple[str, list[Finding]]:
        findings = self.find(text, candidates)
        if not findings:
            return text, findings
        out: list[str] = []
        at = 0
        for finding in findings:
            replacement = self.replacement(finding)
            if replacement is not None:
                out.append(text[at:finding.start])
                out.append(replacement)
                at = finding.end
        out.append(text[at:])
        return "".join(out), findings

    def redact(self, value: str) -> tuple[str, list[Finding]]:
        """Redact an attribute value. A JSON document (a message array, tool arguments) is parsed and each
        string in it redacted, so the result is still valid JSON of the same shape."""
        candidates = self.candidates(value)
        if not candidates:
            return value, []
        head = value.lstrip()[:1]
        if head in ("[", "{"):
            try:
                document = json.loads(value)
            except ValueError:
                pass
            else:
                findings: list[Finding] = []
                redacted = self._walk(document, candidates, findings)
                if not findings or redacted == document:
                    return value, findings
                return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")), findings
        return self.redact_text(value, candidates)

    def _walk(self, node: Any, candidates: set[int], findings: list[Finding]) -> Any:
        if isinstance(node, str):
            text, found = self.redact_text(node, candidates)
            findings.extend(found)
            return text
        if isinstance(node, list):
            return [self._walk(x, candidates, findings) for x in node]
        if isinstance(node, dict):
            return {k: self._walk(v, candidates, findings) for k, v in node.items()}
        return node
