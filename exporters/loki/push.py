"""Loki's push API messages (`logproto.PushRequest` of pkg/push/push.proto), built from a descriptor with
Loki's field numbers rather than generated code."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

_F = descriptor_pb2.FieldDescriptorProto


def _file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(name="llmtap/loki/push.proto", package="logproto", syntax="proto3",
                                           dependency=["google/protobuf/timestamp.proto"])

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        m = f.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            m.field.add(name=field_name, number=number, type=kind, label=label, type_name=type_name or None)

    one, many = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    message("LabelPairAdapter", ("name", 1, _F.TYPE_STRING, one, ""), ("value", 2, _F.TYPE_STRING, one, ""))
    message("EntryAdapter", ("timestamp", 1, _F.TYPE_MESSAGE, one, ".google.protobuf.Timestamp"),
            ("line", 2, _F.TYPE_STRING, one, ""),
            ("structuredMetadata", 3, _F.TYPE_MESSAGE, many, ".logproto.LabelPairAdapter"))
    message("StreamAdapter", ("labels", 1, _F.TYPE_STRING, one, ""),
            ("entries", 2, _F.TYPE_MESSAGE, many, ".logproto.EntryAdapter"), ("hash", 3, _F.TYPE_UINT64, one, ""))
    message("PushRequest", ("streams", 1, _F.TYPE_MESSAGE, many, ".logproto.StreamAdapter"))
    return f


_pool = descriptor_pool.DescriptorPool()
_pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
_pool.Add(_file())
PushRequest: Any = message_factory.GetMessageClass(_pool.FindMessageTypeByName("logproto.PushRequest"))
