"""The `debug` exporter: logs what it receives, as the Go Collector's `debug` exporter does.

`verbosity: basic` logs one line per batch; `detailed` logs every request as OTLP/JSON.
"""

from __future__ import annotations

import json
import logging
from typing import Literal

from llmtap.collector.component import Exporter, Factory
from llmtap.collector.exporter import ExporterSettings
from llmtap.collector.queue import QueueConfig
from llmtap.collector.signals import Signal, count_items, to_json

log = logging.getLogger("llmtap.exporter.debug")


class DebugExporterConfig(ExporterSettings):
    verbosity: Literal["basic", "normal", "detailed"] = "basic"
    sending_queue: QueueConfig = QueueConfig(persistent=False)


class DebugExporter(Exporter):
    def __init__(self, component_id: str, config: DebugExporterConfig):
        super().__init__(component_id)
        self.config = config
        self.received: dict[Signal, int] = dict.fromkeys(Signal, 0)

    def export(self, signal: Signal, payloads: list[bytes], dedup_token: str) -> None:
        total = 0
        for data in payloads:
            message = signal.request_type()
            message.ParseFromString(data)
            total += count_items(signal, message)
            if self.config.verbosity == "detailed":
                log.info("%s %s", signal.value, json.dumps(to_json(message)))
        self.received[signal] += total
        log.info("%s: %d %s in %d requests", self.id, total, signal.item_name, len(payloads))


factory: Factory[DebugExporterConfig] = Factory(
    type="debug", config=DebugExporterConfig, create=lambda cid, cfg: DebugExporter(cid, cfg)
)
