"""Prometheus remote write 1.0 messages (`prometheus.WriteRequest` of prompb/remote.proto and types.proto),
built from a descriptor here rather than generated code: the few fields llmtap sends, with Prometheus'
field numbers, so the wire format is exactly Prometheus'."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(name="llmtap/prometheus/remote.proto", package="prometheus",
                                           syntax="proto3")

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> descriptor_pb2.DescriptorProto:
        m = f.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            m.field.add(name=field_name, number=number, type=kind, label=label, type_name=type_name or None)
        return m

    one, many = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    message("Label", ("name", 1, _F.TYPE_STRING, one, ""), ("value", 2, _F.TYPE_STRING, one, ""))
    message("Sample", ("value", 1, _F.TYPE_DOUBLE, one, ""), ("timestamp", 2, _F.TYPE_INT64, one, ""))
    message("TimeSeries", ("labels", 1, _F.TYPE_MESSAGE, many, ".prometheus.Label"),
            ("samples", 2, _F.TYPE_MESSAGE, many, ".prometheus.Sample"))
    metadata = message("MetricMetadata", ("type", 1, _F.TYPE_ENUM, one, ".prometheus.MetricMetadata.MetricType"),
                       ("metric_family_name", 2, _F.TYPE_STRING, one, ""), ("help", 4, _F.TYPE_STRING, one, ""),
                       ("unit", 5, _F.TYPE_STRING, one, ""))
    kinds = metadata.enum_type.add(name="MetricType")
    for i, name in enumerate(("UNKNOWN", "COUNTER", "GAUGE", "HISTOGRAM", "GAUGEHISTOGRAM", "SUMMARY", "INFO",
                              "STATESET")):
        kinds.value.add(name=name, number=i)
    message("WriteRequest", ("timeseries", 1, _F.TYPE_MESSAGE, many, ".prometheus.TimeSeries"),
            ("metadata", 3, _F.TYPE_MESSAGE, many, ".prometheus.MetricMetadata"))
    return f


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_file())
WriteRequest: Any = message_factory.GetMessageClass(_pool.FindMessageTypeByName("prometheus.WriteRequest"))
MetricType: Any = _pool.FindEnumTypeByName("prometheus.MetricMetadata.MetricType")
