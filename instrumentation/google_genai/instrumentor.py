"""`GoogleGenAIInstrumentor`: wraps `Models`/`AsyncModels` (the per-request content methods and
`embed_content`); `uninstrument()` restores the originals."""

from __future__ import annotations

import types
from collections.abc import Collection
from typing import Any

from llmtap.instrumentation.genai.instrumentor import SDKInstrumentor, Wrapper
from llmtap.instrumentation.genai.wrapping import Instrumentation, SDKTypes
from llmtap.instrumentation.google_genai import content, embeddings
from llmtap.instrumentation.google_genai.operations import ModelsOperation

_MODELS = "google.genai.models"


class GoogleGenAIInstrumentor(SDKInstrumentor):
    scope = "llmtap.instrumentation.google_genai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("google-genai >= 1.0, < 4",)

    def sdk_types(self) -> SDKTypes:
        return SDKTypes(stream=types.GeneratorType, async_stream=types.AsyncGeneratorType, stream_objects=False)

    def wrappers(self, inst: Instrumentation, **kwargs: Any) -> list[tuple[str, str, Wrapper]]:
        generate, stream = ModelsOperation(content), ModelsOperation(content, stream=True)
        embed = ModelsOperation(embeddings)
        return [
            (_MODELS, "Models._generate_content", inst.sync(generate)),
            (_MODELS, "Models._generate_content_stream", inst.sync(stream)),
            (_MODELS, "AsyncModels._generate_content", inst.async_(generate)),
            (_MODELS, "AsyncModels._generate_content_stream", inst.async_(stream)),
            (_MODELS, "Models.embed_content", inst.sync(embed)),
            (_MODELS, "AsyncModels.embed_content", inst.async_(embed)),
        ]
