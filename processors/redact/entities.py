"""`EntityFinder`: names and places in free text, from a spaCy named-entity model run through Presidio.

Patterns cannot tell a name from any other capitalised word; a trained model can, at a price (milliseconds
per text, against microseconds for the pattern scan), so it is opt-in (`ner:` in the `redact` config) and
the optional extra `llmtap[presidio]`. Presidio loads the model and scores its entities; the `Scanner`
merges them with the pattern findings and replaces them the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from llmtap.processors.redact.config import NerConfig


class EntityFinder:
    def __init__(self, config: NerConfig, disable: Collection[str] = ()):
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        self.language = config.language
        self.min_score = config.min_score
        self.types = sorted({kind for kind in config.entities.values() if kind not in disable})
        """The types looked for (those of `config.entities` not disabled)."""
        nlp = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": config.language, "model_name": config.model}],
            "ner_model_configuration": {"model_to_presidio_entity_mapping": dict(config.entities),
                                        "labels_to_ignore": []},
        }).create_engine()
        # Only the model's entities: the structured types are the Scanner's own (faster, checksum-checked).
        registry = RecognizerRegistry(recognizers=[SpacyRecognizer(supported_language=config.language,
                                                                   supported_entities=self.types)],
                                      supported_languages=[config.language])
        self._analyzer: Any = AnalyzerEngine(nlp_engine=nlp, registry=registry,
                                             supported_languages=[config.language])

    def find(self, text: str) -> list[tuple[str, int, int]]:
        """(type, start, end) of each entity in `text` scored at least `min_score`."""
        if not text.strip():
            return []
        results = self._analyzer.analyze(text, language=self.language, entities=self.types,
                                         score_threshold=self.min_score)
        return [(r.entity_type, r.start, r.end) for r in results]
