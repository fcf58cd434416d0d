"""The collector: OTLP receivers, pipelines configured like the OpenTelemetry Collector's, durable
exporter queues, the service lifecycle and the `llmtap` command line."""
