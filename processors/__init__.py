"""Pipeline processors (normalize, redact, cost, sample) and the genai_metrics connector.

Each is a component in the Collector's sense: a typed config plus a factory registered in
`llmtap.collector.components`. They arrive with the processors issue; the seam is
`llmtap.collector.component.Processor`.
"""
