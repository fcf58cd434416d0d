"""Settings every exporter has, named as in the Go Collector's exporterhelper."""

from __future__ import annotations

from llmtap.collector.config import Model
from llmtap.collector.queue import BatchConfig, QueueConfig, RetryConfig


class ExporterSettings(Model):
    sending_queue: QueueConfig = QueueConfig()
    retry_on_failure: RetryConfig = RetryConfig()
    batch: BatchConfig = BatchConfig()
