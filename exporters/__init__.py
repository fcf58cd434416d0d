"""Exporters: each owns a bounded, optionally persistent queue (`llmtap.collector.queue`)."""
