"""Receivers: where telemetry enters the collector."""
