"""The OTLP receiver: gRPC (`:4317`) and HTTP (`:4318`, protobuf and JSON), for any language."""

from llmtap.collector.receivers.otlp.config import OTLPReceiverConfig
from llmtap.collector.receivers.otlp.receiver import OTLPReceiver, factory

__all__ = ["OTLPReceiver", "OTLPReceiverConfig", "factory"]
