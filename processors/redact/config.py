"""The `redact` processor's config: where to look, what to do with each kind of finding, what to leave."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from llmtap.collector.config import Model
from llmtap.processors.redact._match import pattern_error

Action = Literal["redact", "hash", "keep"]
"""`redact` puts `<EMAIL>` in place of the value; `hash` puts `<EMAIL:3f9a1c2b>` (HMAC-SHA256 of the value
with `hash_key`, so one address joins across calls without being readable); `keep` leaves it but still
flags the item."""

CONTENT_ATTRIBUTES = (
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.prompt", "gen_ai.completion",
    "gen_ai.prompt.*", "gen_ai.completion.*", "gen_ai.event.content",
    "llm.input_messages.*", "llm.output_messages.*", "llm.prompts*", "llm.completions*", "input.value", "output.value",
    "ai.prompt*", "ai.response.text", "ai.response.object", "ai.response.toolCalls", "ai.toolCall.args",
    "ai.toolCall.result", "traceloop.entity.input", "traceloop.entity.output",
)
"""Attributes that carry message content in the current GenAI conventions and the conventions `normalize`
maps from (kept when it is configured to keep originals)."""


class Pattern(Model):
    """A detector of your own: `regex` (PCRE2 syntax, which Python's `re` shares but for rarities such as `\\Z`;
    a group named `v`, if present, is the part replaced)."""

    type: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    regex: str
    ignore_case: bool = False

    @model_validator(mode="after")
    def _compiles(self) -> Pattern:
        error = pattern_error(self.regex, self.ignore_case)
        if error is not None:
            raise ValueError(f"regex {self.regex!r} is not a valid regular expression: {error}")
        return self


ENTITY_TYPES = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
"""The spaCy entity labels (OntoNotes: English models; WikiNER: `PER`, `LOC` in many others) that are names
and places, and the type each becomes."""


class NerConfig(Model):
    """Names and places found by a named-entity model, through Presidio (`pip install 'llmtap[presidio]'`)."""

    model: str
    """A spaCy pipeline: an installed package (`en_core_web_lg`) or a directory (`/models/my_pipeline`)."""
    language: str = "en"
    entities: dict[str, str] = Field(default_factory=lambda: dict(ENTITY_TYPES))
    """The model's entity labels to look for, and the type each is reported and replaced as."""
    min_score: float = Field(default=0.5, ge=0, le=1)
    """Presidio's confidence below which an entity is left alone."""

    @field_validator("entities")
    @classmethod
    def _types_are_names(cls, value: dict[str, str]) -> dict[str, str]:
        for label, kind in value.items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", kind):
                raise ValueError(f"{label}: {kind!r} is not a type name (upper case, such as PERSON)")
        return value

    @model_validator(mode="after")
    def _model_is_there(self) -> NerConfig:
        """Fail at `llmtap validate`, not on the first request: the library and the model must be installed."""
        import importlib.util
        from pathlib import Path

        for module in ("presidio_analyzer", "spacy"):
            if importlib.util.find_spec(module) is None:
                raise ValueError(f"needs {module}: pip install 'llmtap[presidio]'")
        if not Path(self.model).is_dir() and importlib.util.find_spec(self.model) is None:
            raise ValueError(f"model {self.model!r} is neither an installed spaCy pipeline nor a directory "
                             f"(install one with `python -m spacy download {self.model}`)")
        return self


class RedactConfig(Model):
    attributes: list[str] = Field(default_factory=lambda: list(CONTENT_ATTRIBUTES))
    """Globs over attribute keys on spans, span events and log records whose values are scanned (JSON
    message arrays are parsed and each string in them scanned, so the result is still valid JSON).
    Log record bodies are always scanned."""
    default_action: Action = "redact"
    actions: dict[str, Action] = Field(default_factory=dict)
    """Per type, e.g. `{EMAIL: hash, IP_ADDRESS: keep}`."""
    hash_key: str = ""
    """The HMAC key for `hash` (use `${env:LLMTAP_REDACT_KEY}`); required when any action is `hash`."""
    allow: list[str] = Field(default_factory=list)
    """Values never replaced (compared ignoring case), such as your support address."""
    allow_patterns: list[str] = Field(default_factory=list)
    """Regular expressions; a value matching one in full is never replaced."""
    patterns: list[Pattern] = Field(default_factory=list)
    """Detectors of your own; they win over the built-in ones where both match."""
    disable: list[str] = Field(default_factory=list)
    """Built-in types not to look for."""
    ner: NerConfig | None = None
    """Names and places too, with a named-entity model (off by default: a model costs milliseconds per text)."""

    @model_validator(mode="after")
    def _hash_needs_key(self) -> RedactConfig:
        uses_hash = self.default_action == "hash" or "hash" in self.actions.values()
        if uses_hash and not self.hash_key:
            raise ValueError("hash_key is required when an action is `hash`")
        for pattern in self.allow_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"allow_patterns: {pattern!r} is not a valid regular expression: {exc}") from None
        return self
