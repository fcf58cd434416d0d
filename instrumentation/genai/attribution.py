"""`llmtap.attributes(...)`: who a call is for, put on every GenAI span started inside the block.

A `ContextVar` carries the attributes, so they follow `await` and asyncio tasks (which copy the context)
and stay out of other threads' calls.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes import session_attributes, user_attributes
from opentelemetry.util.types import AttributeValue

from llmtap import semconv

_EMPTY: Mapping[str, AttributeValue] = MappingProxyType({})
_current: contextvars.ContextVar[Mapping[str, AttributeValue]] = contextvars.ContextVar(
    "llmtap_attributes", default=_EMPTY)


@contextmanager
def attributes(*, user_id: str | None = None, session_id: str | None = None, tenant_id: str | None = None,
               conversation_id: str | None = None, **custom: AttributeValue) -> Iterator[None]:
    """Add these attributes to every GenAI span started in the block; nested blocks add to outer ones.

    `session_id` is also the `gen_ai.conversation.id` unless `conversation_id` is given. Custom keyword
    arguments become attributes of the same name (`feature="search"` -> `feature`).
    """
    added: dict[str, AttributeValue] = {}
    if user_id is not None:
        added[user_attributes.USER_ID] = user_id
    if session_id is not None:
        added[session_attributes.SESSION_ID] = session_id
        added[gen_ai.GEN_AI_CONVERSATION_ID] = session_id
    if conversation_id is not None:
        added[gen_ai.GEN_AI_CONVERSATION_ID] = conversation_id
    if tenant_id is not None:
        added[semconv.LLMTAP_TENANT_ID] = tenant_id
    added.update(custom)
    token = _current.set(MappingProxyType({**_current.get(), **added}))
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Mapping[str, AttributeValue]:
    return _current.get()
