"""Multi-tenant Grafana backends (Tempo, Loki, Mimir): the tenant of each request, in a header."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from pydantic import model_validator

from llmtap.collector.attributes import pick
from llmtap.collector.config import Model


class TenantConfig(Model):
    """The tenant of each request, sent in `header` (Tempo, Loki and Mimir read `X-Scope-OrgID`)."""

    header: str = "X-Scope-OrgID"
    value: str | None = None
    """One tenant for everything."""
    from_resource_attribute: str | None = None
    """The tenant from this resource attribute; items are split into one request per tenant."""
    default: str | None = None
    """For resources without the attribute; None sends them without the header."""

    @model_validator(mode="after")
    def _one_source(self) -> TenantConfig:
        if (self.value is None) == (self.from_resource_attribute is None):
            raise ValueError("set one of value and from_resource_attribute")
        return self


def split(request: Any, tenant: TenantConfig) -> dict[str | None, Any]:
    """One OTLP request per tenant: the request's resource entries (spans, logs or metrics of one resource)
    grouped by the tenant attribute of their resource."""
    key = tenant.from_resource_attribute
    assert key is not None
    field = request.DESCRIPTOR.fields[0].name  # resource_spans, resource_logs or resource_metrics
    out: dict[str | None, Any] = {}
    for entry in getattr(request, field):
        value = pick(entry.resource.attributes, {key}).get(key)
        name = str(value) if value not in (None, "") else tenant.default
        if name not in out:
            out[name] = type(request)()
        getattr(out[name], field).append(entry)
    return out


def header(tenant: TenantConfig | None, name: str | None) -> dict[str, str]:
    return {tenant.header: name} if tenant is not None and name else {}


class Deliveries:
    """The tenants of each batch (by its deduplication token) already delivered, so that a retry after a
    partial failure sends only the rest."""

    def __init__(self, remember: int = 1000):
        self.remember = remember
        self._done: OrderedDict[str, set[str | None]] = OrderedDict()

    def pending(self, token: str, parts: dict[str | None, Any]) -> Iterator[tuple[str | None, Any]]:
        """The parts not yet delivered. A part counts as delivered once the caller asks for the next one,
        i.e. once its send returned; a send that raises leaves it pending for the retry."""
        done = self._done.setdefault(token, set())
        for name, part in parts.items():
            if name not in done:
                yield name, part
                done.add(name)
        del self._done[token]
        while len(self._done) > self.remember:
            self._done.popitem(last=False)
