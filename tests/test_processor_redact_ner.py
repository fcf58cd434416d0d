"""The `redact` processor's named-entity backend (`ner:`): names and places through Presidio and spaCy.

A trained model cannot be downloaded here (spaCy's models are not on PyPI), so the tests build a real spaCy
pipeline whose entity recogniser is rule-based (`entity_ruler`) and save it to a directory: Presidio loads
and runs it exactly as it would `en_core_web_lg`. What these tests check is everything around the model:
loading, label mapping, scores, merging with the pattern findings, replacement, flags, config errors.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import spacy
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmtap import semconv
from llmtap.collector import attributes
from llmtap.collector.config import ConfigError
from llmtap.collector.service import parse_config
from llmtap.collector.signals import Batch, Signal
from llmtap.processors.redact import RedactConfig, RedactProcessor, Scanner
from tests.conftest import free_port, memory_config
from tests.otlp_data import kv


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([  # type: ignore[attr-defined]
        {"label": "PERSON", "pattern": [{"LOWER": "maria"}, {"LOWER": "garcia"}]},
        {"label": "PERSON", "pattern": [{"TEXT": "José"}, {"TEXT": "Álvarez"}]},
        {"label": "PERSON", "pattern": [{"TEXT": "jo@acme.io"}]},  # also an e-mail address: the pattern wins
        {"label": "GPE", "pattern": "Lisbon"},
        {"label": "LOC", "pattern": [{"LOWER": "lake"}, {"LOWER": "geneva"}]},
        {"label": "ORG", "pattern": "Acme"},
    ])
    path = tmp_path_factory.mktemp("spacy") / "pipeline"
    nlp.to_disk(path)
    return str(path)


def scanner(model: str, ner: dict[str, object] | None = None, **settings: object) -> Scanner:
    return Scanner(RedactConfig.model_validate({**settings, "ner": {"model": model, **(ner or {})}}))


def test_names_and_places_in_message_json_are_replaced_and_flagged(model: str) -> None:
    processor = RedactProcessor("redact", RedactConfig.model_validate({"ner": {"model": model}}))
    messages = [{"role": "user", "parts": [{"type": "text", "content": 'I am José Álvarez, from Lisbon, "near" '
                                                                       "Lake Geneva; mail maria@x.io"}]},
                {"role": "assistant", "parts": [{"type": "text", "content": "Hello Maria Garcia of Acme."}]}]
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.attributes.extend([kv("gen_ai.input.messages", json.dumps(messages, ensure_ascii=False)),
                            kv("gen_ai.request.model", "Maria Garcia")])  # not a content attribute
    asyncio.run(processor.process(Batch(Signal.TRACES, request)))

    found = attributes.pick(span.attributes, {"gen_ai.input.messages", "gen_ai.request.model",
                                              semconv.LLMTAP_PII_TYPES})
    out = json.loads(found["gen_ai.input.messages"])  # type: ignore[arg-type]
    assert out[0]["parts"][0]["content"] == 'I am <PERSON>, from <LOCATION>, "near" <LOCATION>; mail <EMAIL>'
    assert out[1]["parts"][0]["content"] == "Hello <PERSON> of Acme."  # ORG is not a default type
    assert found["gen_ai.request.model"] == "Maria Garcia"
    assert found[semconv.LLMTAP_PII_TYPES] == ["EMAIL", "LOCATION", "PERSON"]
    assert processor.counts == {"PERSON": 2, "LOCATION": 2, "EMAIL": 1}


def test_entities_follow_actions_allow_lists_disable_and_the_label_map(model: str) -> None:
    hashed = scanner(model, actions={"PERSON": "hash"}, hash_key="k", allow=["lisbon"])
    out, findings = hashed.redact("Maria Garcia met maria garcia in Lisbon by Lake Geneva")
    first, second = out.split(" met ")[0], out.split(" met ")[1].split(" in ")[0]
    assert first.startswith("<PERSON:") and first == second  # one person, one hash
    assert out.endswith(" in Lisbon by <LOCATION>")
    assert [f.type for f in findings] == ["PERSON", "PERSON", "LOCATION"]

    no_places = scanner(model, disable=["LOCATION"])
    assert no_places.redact("Maria Garcia in Lisbon")[0] == "<PERSON> in Lisbon"
    assert no_places.entities is not None and no_places.entities.types == ["PERSON"]
    assert scanner(model, disable=["LOCATION", "PERSON"]).entities is None  # nothing left to ask the model

    organisations = scanner(model, ner={"entities": {"ORG": "ORGANIZATION"}})
    assert organisations.redact("Maria Garcia of Acme")[0] == "Maria Garcia of <ORGANIZATION>"


def test_a_pattern_finding_wins_where_an_entity_covers_the_same_text(model: str) -> None:
    out, findings = scanner(model).redact("write to jo@acme.io")
    assert out == "write to <EMAIL>"
    assert [f.type for f in findings] == ["EMAIL"]


def test_entities_scored_below_min_score_are_left(model: str) -> None:
    """Presidio scores spaCy's entities 0.85: a threshold above that keeps them all."""
    assert scanner(model, ner={"min_score": 0.9}).redact("Maria Garcia")[0] == "Maria Garcia"
    assert scanner(model, ner={"min_score": 0.8}).redact("Maria Garcia")[0] == "<PERSON>"


@pytest.mark.parametrize("ner, message", [
    ("{model: no_such_pipeline_xyz}", "neither an installed spaCy pipeline nor a directory"),
    ("{model: MODEL, entities: {PERSON: person}}", "is not a type name"),
    ("{model: MODEL, min_score: 2}", "min_score"),
])
def test_config_errors_name_the_problem(tmp_path: Path, model: str, ner: str, message: str) -> None:
    config = memory_config(free_port(), free_port(), tmp_path,
                           processors={"redact": f"{{ner: {ner.replace('MODEL', model)}}}"})
    with pytest.raises(ConfigError, match=message):
        parse_config(config)
