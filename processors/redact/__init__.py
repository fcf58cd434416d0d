"""The `redact` processor: finds PII and secrets in message content and replaces them before anything is
stored or exported, and flags every span and log record it found something in.

    processors:
      redact:
        actions: {EMAIL: hash, IP_ADDRESS: keep}
        hash_key: ${env:LLMTAP_REDACT_KEY}
        allow: [support@example.com]
        patterns:
          - {type: EMPLOYEE_ID, regex: "EMP-\\\\d{6}"}

Types: EMAIL, PHONE, US_SSN, CREDIT_CARD, IBAN, IP_ADDRESS, URL_CREDENTIALS, API_KEY, JWT, PRIVATE_KEY,
SECRET, DATE_OF_BIRTH, those of your own `patterns`, and with `ner: {model: en_core_web_lg}` (a spaCy
model through Presidio, `llmtap[presidio]`) PERSON and LOCATION.
"""

from __future__ import annotations

from llmtap.collector.component import Factory
from llmtap.collector.signals import Signal
from llmtap.processors.redact.config import Pattern, RedactConfig
from llmtap.processors.redact.processor import RedactProcessor
from llmtap.processors.redact.scanner import Finding, Scanner

factory: Factory[RedactConfig] = Factory(type="redact", config=RedactConfig,
                                         create=lambda cid, cfg: RedactProcessor(cid, cfg),
                                         signals=frozenset({Signal.TRACES, Signal.LOGS}))

__all__ = ["Finding", "Pattern", "RedactConfig", "RedactProcessor", "Scanner", "factory"]
