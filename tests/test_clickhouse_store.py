"""The embedded store end to end: OTLP in, rows in the OTel tables and llm_calls, read back through the
collector's read-only ClickHouse HTTP interface with clickhouse-connect as the client."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

from llmtap.collector.signals import Signal
from llmtap.exporters.clickhouse import schema
from llmtap.exporters.clickhouse.exporter import split_batch
from tests.conftest import Process, read_client, wait_for
from tests.otlp_data import genai_spans, log_records

PB = {"Content-Type": "application/x-protobuf"}


def test_traces_logs_and_metrics_land_in_the_otel_tables(store: Process) -> None:
    traces = genai_spans(50, content_bytes=400, service="store-test", seed=1)
    assert requests.post(f"{store.http}/v1/traces", data=traces.SerializeToString(), headers=PB).status_code == 200
    assert requests.post(f"{store.http}/v1/logs", data=log_records(9).SerializeToString(),
                         headers=PB).status_code == 200
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=store.grpc, insecure=True))
    mp = MeterProvider(metric_readers=[reader])
    meter = mp.get_meter("m")
    meter.create_histogram("gen_ai.client.operation.duration", unit="s").record(1.5, {"gen_ai.request.model": "x"})
    meter.create_counter("calls").add(3)
    meter.create_gauge("queue.depth").set(7)
    mp.shutdown()

    client = read_client(store)
    wait_for(lambda: client.command("SELECT count() FROM otel_traces") == 50)
    wait_for(lambda: client.command("SELECT count() FROM llm_calls") == 50)  # from the genai_metrics connector
    span = traces.resource_spans[0].scope_spans[0].spans[0]
    row = client.query(
        "SELECT ServiceName, SpanKind, SpanName, Duration, SpanAttributes, ResourceAttributes['service.version'] "
        f"FROM otel_traces WHERE SpanId = '{span.span_id.hex()}'").result_rows[0]
    assert row[0] == "store-test" and row[1] == "Client" and row[2] == span.name
    assert row[3] == span.end_time_unix_nano - span.start_time_unix_nano
    attrs = row[4]
    assert attrs["gen_ai.usage.input_tokens"] == str(span.attributes[14].value.int_value)
    assert attrs["gen_ai.request.temperature"] == "0.7"
    assert attrs["gen_ai.request.stream"] == "true"
    assert json.loads(attrs["gen_ai.response.finish_reasons"]) == ["stop"]
    assert json.loads(attrs["gen_ai.input.messages"])[0]["role"] == "user"
    assert row[5] == "1.4.2"

    calls = client.query("SELECT RequestModel, InputTokens, FinishReasons, UserId, TenantId, "
                         "TimeToFirstToken, CostUsd FROM llm_calls WHERE SpanId = "
                         f"'{span.span_id.hex()}'").result_rows
    cost = float(attrs["llmtap.cost.usd"])  # set by the cost processor of the store's traces pipeline
    assert cost > 0
    assert calls == [(span.attributes[2].value.string_value, span.attributes[14].value.int_value, ["stop"],
                      span.attributes[22].value.string_value, "acme", 0.25, cost)]
    assert client.command("SELECT count() FROM llm_calls") == 50
    wait_for(lambda: client.command("SELECT count() FROM otel_logs") == 9)
    assert client.command("SELECT Body FROM otel_logs WHERE LogAttributes['i'] = '3'") == "log line 3"
    histogram = "FROM otel_metrics_histogram WHERE MetricName = 'gen_ai.client.operation.duration'"
    wait_for(lambda: client.command(f"SELECT count() {histogram}") == 1)
    assert client.command(f"SELECT Count {histogram}") == 1
    assert client.command("SELECT Value FROM otel_metrics_sum WHERE MetricName = 'calls'") == 3
    assert client.command("SELECT Value FROM otel_metrics_gauge WHERE MetricName = 'queue.depth'") == 7
    latest = max(version for version, _, _ in schema.migrations(schema.SchemaOptions()))
    assert client.command("SELECT max(version) FROM llmtap_schema_migrations") == latest == 8
    # The connector's series add up to the spans: requests, inclusive input tokens, cost.
    sums = "SELECT sum(Value) FROM otel_metrics_sum WHERE ServiceName = 'store-test' AND MetricName = "
    wait_for(lambda: client.command(sums + "'llmtap.requests'") == 50)  # flushed every second
    assert client.command(sums + "'llmtap.tokens' AND Attributes['gen_ai.token.type'] = 'input'") == \
        client.command("SELECT sum(InputTokens) FROM llm_calls")
    cost_series = float(client.command(sums + "'llmtap.cost.usd'"))
    assert cost_series > 0 and abs(cost_series - float(client.command("SELECT sum(CostUsd) FROM llm_calls"))) < 1e-9
    assert client.command("SELECT sum(Count) FROM otel_metrics_histogram "
                          "WHERE MetricName = 'llmtap.request.duration'") == 50


def test_read_endpoint_formats_and_refusals(store: Process) -> None:
    requests.post(f"{store.http}/v1/traces", data=genai_spans(5).SerializeToString(), headers=PB)
    client = read_client(store)
    wait_for(lambda: client.command("SELECT count() FROM otel_traces") == 5)
    base = f"http://127.0.0.1:{store.ports['read']}"
    assert requests.get(f"{base}/ping").text == "Ok.\n"
    r = requests.get(base, params={"query": "SELECT count() AS n FROM otel_traces FORMAT JSONEachRow"})
    assert r.json() == {"n": "5"} or r.json() == {"n": 5}
    r = requests.post(base, data="SELECT SpanKind, count() FROM otel_traces GROUP BY SpanKind")
    assert r.text == "Client\t5\n", "TabSeparated is the default format"
    r = requests.get(base, params={"query": "SELECT 1 AS x", "default_format": "JSONEachRow"})
    assert r.json() == {"x": 1}
    df = client.query("SELECT TraceId, Timestamp FROM otel_traces ORDER BY Timestamp")  # Native over HTTP
    assert len(df.result_rows) == 5 and len(df.result_rows[0][0]) == 32
    for query in ("DROP TABLE otel_traces", "INSERT INTO otel_traces (TraceId) VALUES ('x')",
                  "ALTER TABLE otel_traces DELETE WHERE 1", "SELECT * FROM file('/etc/passwd', 'LineAsString')",
                  "SELECT * FROM url('http://127.0.0.1:1/', 'CSV')", "SELECT * FROM system.disks",
                  "SELECT 1; DROP TABLE otel_traces", "SELECT 1 INTO OUTFILE '/tmp/x'",
                  "SET readonly = 0", "SELECT * FROM s3 ('x')"):
        r = requests.post(base, data=query)
        assert r.status_code == 403, (query, r.status_code, r.text)
        assert "Code: 164" in r.text
    r = requests.post(base, params={"readonly": "0"}, data="CREATE TABLE t (x UInt8) ENGINE = Memory")
    assert r.status_code == 403
    r = requests.post(base, data="SELECT no_such_column FROM otel_traces")
    assert r.status_code == 400 and "Code: 47" in r.text
    assert client.command("SELECT count() FROM otel_traces") == 5, "nothing was changed"
    # server-side query parameters, as clickhouse-connect and Grafana send them (`param_<name>`)
    [trace_id] = client.query("SELECT any(TraceId) FROM otel_traces").result_rows[0]
    bound = client.query("SELECT count() AS n, {label:String} AS label FROM otel_traces "
                         "WHERE TraceId = {trace:String} AND Timestamp > {since:DateTime64(9)}",
                         parameters={"trace": trace_id, "label": "it's\ta\ttab", "since": datetime(2000, 1, 1)})
    spans_in_trace = client.command(f"SELECT count() FROM otel_traces WHERE TraceId = '{trace_id}'")
    assert bound.result_rows == [(spans_in_trace, "it's\ta\ttab")]
    r = requests.get(base, params={"query": "SELECT {n:UInt8} + 1, {s:Array(String)} FORMAT TabSeparated",
                                   "param_n": "41", "param_s": "['a','b']"})
    assert r.text == "42\t['a','b']\n", r.text


def test_stats_and_demo_commands(store: Process) -> None:
    demo = subprocess.run([sys.executable, "-m", "llmtap.collector.cli", "demo", "--calls", "120", "--endpoint",
                           store.http], capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    client = read_client(store)
    wait_for(lambda: client.command("SELECT count() FROM llm_calls") == 120)
    out = subprocess.run([sys.executable, "-m", "llmtap.collector.cli", "stats", "--json", "--endpoint",
                          f"127.0.0.1:{store.ports['read']}"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    assert sum(int(r["calls"]) for r in stats["model"]) == 120
    assert {r["key"] for r in stats["service"]} <= {"support-bot", "search-api", "summarizer"}
    errors = client.command("SELECT countIf(StatusCode = 'Error') FROM llm_calls")
    assert sum(int(r["errors"]) for r in stats["model"]) == errors
    table = subprocess.run([sys.executable, "-m", "llmtap.collector.cli", "stats", "--endpoint",
                            f"127.0.0.1:{store.ports['read']}"], capture_output=True, text=True, timeout=60)
    assert "gpt-4o" in table.stdout and "p95" in table.stdout
    base = f"http://127.0.0.1:{store.ports['read']}"


    for query, expected in (("SELECT 1 FORMAT TabSeparated", "1\n"), ("EXISTS TABLE otel_logs", "1\n"),
                            ("WITH 2 AS x SELECT x", "2\n"), ("-- a comment\nSELECT 'DROP TABLE x'", "DROP TABLE x\n")):
        r = requests.post(base, data=query)
        assert (r.status_code, r.text) == (200, expected), query
    assert "llm_calls" in requests.post(base, data="SHOW TABLES").text
    assert "InputTokens" in requests.post(base, data="DESCRIBE TABLE llm_calls").text


ISOLATION = """
import asyncio, json, sys
from pathlib import Path
from llmtap.collector.component import Host
from llmtap.collector.queue import PermanentError
from llmtap.collector.signals import Batch, Signal
from llmtap.collector.telemetry import SelfTelemetry
from llmtap.exporters.clickhouse.exporter import ClickHouseExporter, ClickHouseExporterConfig
from llmtap.processors.genai_metrics import GenAIMetricsConfig, GenAIMetricsConnector
from tests.otlp_data import genai_spans, log_records

data, signal = Path(sys.argv[1]), Signal(sys.argv[2])
exporter = ClickHouseExporter("clickhouse", ClickHouseExporterConfig(dsn=f"chdb://{data}/ch", insert_parallelism=2))
asyncio.run(exporter.start(Host(data, SelfTelemetry())))
tables = []
insert = exporter._insert
exporter._insert = lambda table, *args: (tables.append(table), insert(table, *args))[1]
corrupt = b"\\x0a\\x02\\x08\\x01"  # resource_* whose resource is a varint: ClickHouse code 444
if signal is Signal.TRACES:
    batch = [genai_spans(n, seed=n).SerializeToString() for n in (1, 2, 3)] + [corrupt]
    batch += [genai_spans(n, seed=n).SerializeToString() for n in (4, 5)] + [corrupt]
    counted = ["otel_traces"]
else:
    connector = GenAIMetricsConnector("genai_metrics", GenAIMetricsConfig())

    def calls(n):
        return connector.derive(Batch(Signal.TRACES, genai_spans(n, seed=n))).batches[0].message

    mixed = log_records(1)  # one request: an application's record and a call record
    mixed.resource_logs.extend(calls(1).resource_logs)
    batch = [log_records(3).SerializeToString(), calls(2).SerializeToString(), corrupt,
             log_records(2).SerializeToString(), calls(3).SerializeToString(), mixed.SerializeToString()]
    counted = ["otel_logs", "llm_calls"]
out = []
for attempt in range(2):  # the same batch retried with the same token: refused the same way, nothing twice
    try:
        exporter.export(signal, batch, "batch-1")
        out.append(None)
    except PermanentError as exc:
        out.append(exc.refused)
    client = exporter._clients.get()
    out.append([client.command(f"SELECT count() FROM {table}") for table in counted])
    exporter._clients.put(client)
print(json.dumps([*out, sorted(set(tables))]))
"""


def _isolation(tmp_path: Path, signal: Signal) -> list[Any]:
    result = subprocess.run([sys.executable, "-c", ISOLATION, str(tmp_path), signal.value], capture_output=True,
                            text=True, timeout=300, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_bad_requests_are_isolated_and_the_rest_of_the_batch_lands(tmp_path: Path) -> None:
    """ClickHouse refuses a whole insert for one corrupt request: the exporter halves the batch until the
    corrupt ones stand alone, inserts the rest and names only those as refused."""
    first, rows, again, rows_again, tables = _isolation(tmp_path, Signal.TRACES)
    assert first == [3, 6] and again == [3, 6]
    assert rows == [1 + 2 + 3 + 4 + 5] and rows_again == rows
    assert tables == ["otlp_traces_in"]


def test_requests_of_call_records_only_go_straight_into_llm_calls_and_mixed_batches_land_once(
        tmp_path: Path) -> None:
    """A logs batch of application logs, the connector's call records, a corrupt request and a request with
    both: call-only requests become llm_calls rows, the rest goes through the logs staging table, each part
    isolated from the other (a refusal among the logs never inserts the calls again), and a retry lands nothing
    twice."""
    first, rows, again, rows_again, tables = _isolation(tmp_path, Signal.LOGS)
    assert first == [2] and again == [2]
    assert rows == [3 + 2 + 1, 2 + 3 + 1] and rows_again == rows
    assert tables == ["llm_calls", "otlp_logs_in"]


CALL_ROWS = """
import asyncio, json, sys
from pathlib import Path
from llmtap.collector.component import Host
from llmtap.collector.signals import Batch, Signal
from llmtap.collector.telemetry import SelfTelemetry
from llmtap.exporters.clickhouse import schema
from llmtap.exporters.clickhouse.exporter import ClickHouseExporter, ClickHouseExporterConfig, migrate
from llmtap.processors.genai_metrics import GenAIMetricsConfig, GenAIMetricsConnector
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import ResourceLogs
from tests.otlp_data import genai_spans, log_records

data = Path(sys.argv[1])
exporter = ClickHouseExporter("clickhouse", ClickHouseExporterConfig(dsn=f"chdb://{data}/ch", read_endpoint=None,
                                                                     insert_parallelism=1))
asyncio.run(exporter.start(Host(data, SelfTelemetry())))
client = exporter._clients.get()
# A store at version 7: the calls staging table and its view.
for statement in dict((v, ddl) for v, _, ddl in schema.migrations(exporter.options))[7]:
    client.command(statement)
client.command("ALTER TABLE llmtap_schema_migrations DELETE WHERE version = 8 SETTINGS mutations_sync = 1")
applied = [migrate(client, exporter.options), migrate(client, exporter.options)]
left = client.query("SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN "
                    f"('{schema.CALLS_STAGING}', 'llm_calls_direct_mv')").result_rows
exporter._clients.put(client)

spans = genai_spans(30, content_bytes=300, seed=4)
for i, span in enumerate(spans.resource_spans[0].scope_spans[0].spans[::3]):  # what genai_spans leaves out
    span.status.code = 2
    span.attributes.extend(KeyValue(key=k, value=v) for k, v in {
        "error.type": AnyValue(string_value="timeout"), "llmtap.pii.detected": AnyValue(bool_value=True),
        "llmtap.cost.usd": AnyValue(double_value=0.5 + i),
        "gen_ai.usage.cache_read.input_tokens": AnyValue(int_value=7),
        "gen_ai.usage.cache_creation.input_tokens": AnyValue(int_value=3 + i),
        "gen_ai.usage.reasoning.output_tokens": AnyValue(int_value=11 + i)}.items())
config = GenAIMetricsConfig()
calls = GenAIMetricsConnector("genai_metrics", config).derive(Batch(Signal.TRACES, spans)).batches[0].message
# Records other senders could make: values of other types, repeated keys (the first counts), no time, no
# service.name, odd ids; each still a row, read as the view reads it.
odd = ResourceLogs()
odd.resource.attributes.add(key="host.name", value=AnyValue(string_value="h"))
scope = odd.scope_logs.add()
reasons = ArrayValue(values=[AnyValue(string_value="stop"), AnyValue(int_value=3), AnyValue(string_value="")])
for n, values in enumerate([
    {"gen_ai.request.model": AnyValue(int_value=4), "gen_ai.usage.input_tokens": AnyValue(int_value=-5),
     "gen_ai.usage.output_tokens": AnyValue(double_value=9.0), "llmtap.cost.usd": AnyValue(int_value=2),
     "gen_ai.response.time_to_first_chunk": AnyValue(string_value="0.5"), "otel.status_code": AnyValue(
         string_value="OK"), "gen_ai.response.finish_reasons": AnyValue(array_value=reasons),
     "llmtap.call.duration": AnyValue(int_value=3), "user.id": AnyValue(bool_value=True)},
    {"gen_ai.provider.name": AnyValue(string_value="first"), "llmtap.call.duration": AnyValue(double_value=2.5e-9),
     "gen_ai.response.time_to_first_chunk": AnyValue(int_value=1), "llmtap.pii.detected": AnyValue(bool_value=False),
     "gen_ai.response.finish_reasons": AnyValue(string_value="stop"), "otel.status_code": AnyValue(int_value=2)},
]):
    record = scope.log_records.add(observed_time_unix_nano=1_700_000_000_000_000_123 + n,
                                   time_unix_nano=0 if n == 0 else 1_700_000_000_000_000_007,
                                   trace_id=bytes(range(16)) if n == 0 else bytes([171]), span_id=bytes([n]) * 8,
                                   event_name="llmtap.llm_call")
    record.attributes.extend(KeyValue(key=k, value=v) for k, v in values.items())
    record.attributes.add(key="gen_ai.provider.name", value=AnyValue(string_value="second"))
    record.attributes.add(key="gen_ai.operation.name")  # no value
calls.resource_logs.append(odd)
mixed = log_records(1)  # with an application's record, the request goes through the logs staging table
mixed.resource_logs.extend(calls.resource_logs)
rows = []
for i, request in enumerate((calls, mixed)):
    exporter.export(Signal.LOGS, [request.SerializeToString()], f"calls-{i}")
    client = exporter._clients.get()
    rows.append(client.query("SELECT * EXCEPT (Timestamp), toString(Timestamp) FROM llm_calls ORDER BY SpanId")
                .result_rows)
    client.command("TRUNCATE TABLE llm_calls")
    exporter._clients.put(client)
print(json.dumps([applied, left, *rows], default=str))
"""


def test_call_rows_made_by_the_exporter_are_what_the_llm_calls_view_makes(tmp_path: Path) -> None:
    """Version 8 drops the calls staging table: requests of call records only become llm_calls rows in the
    exporter (`wire.call_rows`, RowBinary). Every column of every row is what the llm_calls view makes of the
    same records through the logs staging table, odd records included."""
    result = subprocess.run([sys.executable, "-c", CALL_ROWS, str(tmp_path)], capture_output=True, text=True,
                            timeout=300, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    applied, left, direct, through_logs = json.loads(result.stdout.strip().splitlines()[-1])
    assert applied == [[8], []] and left == []
    assert len(direct) == 32 and direct == through_logs
    columns = list(zip(*direct, strict=True))
    for values in columns:  # every column read something: a field read wrong would read as default
        assert len(set(map(str, values))) > 1 or values[0] not in ("", 0, None, [], False, "Unset"), values[:3]


@given(st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=40), st.integers(1, 6))
def test_a_batch_splits_into_contiguous_nonempty_parts(payloads: list[bytes], parts: int) -> None:
    runs = split_batch(payloads, parts)
    assert [p for run in runs for p in run] == payloads
    assert 1 <= len(runs) <= min(parts, len(payloads))
    assert all(runs)
    assert split_batch(payloads, parts) == runs  # a retried batch splits the same way, so its tokens repeat


VALUES = """
import asyncio, json, sys
from pathlib import Path
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from llmtap.collector.component import Host
from llmtap.collector.signals import Signal
from llmtap.collector.telemetry import SelfTelemetry
from llmtap.exporters.clickhouse.exporter import ClickHouseExporter, ClickHouseExporterConfig, migrate

data = Path(sys.argv[1])
exporter = ClickHouseExporter("clickhouse", ClickHouseExporterConfig(dsn=f"chdb://{data}/ch", read_endpoint=None,
                                                                     insert_parallelism=1))
asyncio.run(exporter.start(Host(data, SelfTelemetry())))

def request(name):
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name, span.start_time_unix_nano = b"\\1" * 16, b"\\2" * 8, name, 1
    values = {"s": AnyValue(string_value="text"), "i": AnyValue(int_value=-7), "d": AnyValue(double_value=0.25),
              "b": AnyValue(bool_value=True), "raw": AnyValue(bytes_value=b"\\0\\1"), "unset": AnyValue()}
    values["list"] = AnyValue()
    values["list"].array_value.values.extend([AnyValue(string_value='a"b'), AnyValue(int_value=1),
                                              AnyValue(bool_value=False), AnyValue(double_value=1.5)])
    values["map"] = AnyValue()
    values["map"].kvlist_value.values.extend([KeyValue(key="k", value=AnyValue(string_value="v")),
                                              KeyValue(key="n", value=AnyValue(int_value=2))])
    values["empty"] = AnyValue()
    values["empty"].array_value.SetInParent()
    span.attributes.extend(KeyValue(key=k, value=v) for k, v in values.items())
    span.events.add(name="e").attributes.extend(KeyValue(key=k, value=values[k]) for k in ("s", "map"))
    return request.SerializeToString()

exporter.export(Signal.TRACES, [request("first")], "t-1")
client = exporter._clients.get()  # the exporter's one client, lent out between its inserts
row = client.query("SELECT SpanAttributes, Events.Attributes FROM otel_traces").result_rows[0]
# An older store: its traces view made by earlier SQL (marked here), version 4 not recorded yet.
client.command("DROP VIEW otel_traces_mv")
client.command("CREATE MATERIALIZED VIEW otel_traces_mv TO otel_traces AS SELECT 'old view' AS SpanName "
               "FROM otlp_traces_in")
client.command("ALTER TABLE llmtap_schema_migrations DELETE WHERE version = 4 SETTINGS mutations_sync = 1")
applied = [migrate(client, exporter.options), migrate(client, exporter.options)]
exporter._clients.put(client)
exporter.export(Signal.TRACES, [request("second")], "t-2")
client = exporter._clients.get()
names = [r[0] for r in client.query("SELECT SpanName FROM otel_traces ORDER BY SpanName").result_rows]
print(json.dumps([row[0], row[1], applied, names]))
"""


def test_attribute_values_read_as_the_go_exporter_writes_them_and_version_4_remakes_the_views(
        tmp_path: Path) -> None:
    """Each kind of OTLP value becomes the Go exporter's string (`pcommon.Value.AsString`): scalars as text,
    bytes as base64, arrays and maps as JSON. A store made by older view SQL gets the current views from
    migration 4, once."""
    result = subprocess.run([sys.executable, "-c", VALUES, str(tmp_path)], capture_output=True, text=True,
                            timeout=300, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    span_attributes, event_attributes, applied, names = json.loads(result.stdout.strip().splitlines()[-1])
    assert span_attributes == {"s": "text", "i": "-7", "d": "0.25", "b": "true", "raw": "AAE=", "unset": "",
                               "list": '["a\\"b",1,false,1.5]', "map": '{"k":"v","n":2}', "empty": "[]"}
    assert event_attributes == [{"s": "text", "map": '{"k":"v","n":2}'}]
    assert applied == [[4], []]
    assert names == ["first", "second"]  # not "old view": the view was made again


CLUSTER = """
import asyncio, dataclasses, json, sys
from pathlib import Path
import chdb
from llmtap.collector.component import Host
from llmtap.collector.signals import Batch, Signal
from llmtap.collector.telemetry import SelfTelemetry
from llmtap.exporters.clickhouse.exporter import ClickHouseExporter, ClickHouseExporterConfig, migrate
from llmtap.exporters.clickhouse.schema import SchemaOptions
from llmtap.processors.genai_metrics import GenAIMetricsConfig, GenAIMetricsConnector
from tests.otlp_data import genai_spans

data = Path(sys.argv[1])
config = data / "config.xml"  # a one-node cluster whose only shard is this engine
config.write_text(\"\"\"<clickhouse><tcp_port>9000</tcp_port><remote_servers><llmtap><shard><replica>
<host>localhost</host><port>9000</port></replica></shard></llmtap></remote_servers></clickhouse>\"\"\")
engine = chdb.connect(f"{data}/ch?config-file={config}")
exporter = ClickHouseExporter("clickhouse", ClickHouseExporterConfig(
    dsn=f"chdb://{data}/ch", cluster="llmtap", replicated=False, create_schema=False, read_endpoint=None))
asyncio.run(exporter.start(Host(data, SelfTelemetry())))
client = exporter._clients.get()
# chDB has no distributed DDL: on one node, ON CLUSTER is running the statement here
class OneNode(SchemaOptions):
    on_cluster = ""
one_node = OneNode(**dataclasses.asdict(exporter.options))
applied = [migrate(client, one_node), migrate(client, one_node)]
spans = genai_spans(40, seed=1)
calls = GenAIMetricsConnector("genai_metrics", GenAIMetricsConfig()).derive(Batch(Signal.TRACES, spans)).batches[0]
exporter._clients.put(client)
for attempt in range(2):  # a retried batch lands once
    exporter.export(Signal.TRACES, [spans.SerializeToString()], "t-1")
    exporter.export(Signal.LOGS, [calls.data()], "l-1")
engines = dict(client.query("SELECT name, engine FROM system.tables WHERE database = 'default'").result_rows)
counts = {t: client.command(f"SELECT count() FROM {t}") for t in (
    "otel_traces", "otel_traces_local", "llm_calls", "llm_calls_local", "otel_traces_trace_id_ts")}
counts["shards"] = client.command("SELECT uniqExact(_shard_num) FROM otel_traces")
print(json.dumps([applied, engines, counts]))
"""


def test_a_cluster_stores_rows_on_local_tables_through_distributed_ones(tmp_path: Path) -> None:
    """`cluster:` on the real engine: a one-node cluster (chDB with remote_servers) gets every migration,
    `<name>_local` tables under Distributed `<name>` ones, and rows inserted through the views reach the
    local tables once, retried or not."""
    result = subprocess.run([sys.executable, "-c", CLUSTER, str(tmp_path)], capture_output=True, text=True,
                            timeout=300, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    applied, engines, counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert applied == [[v for v, _, _ in schema.migrations(schema.SchemaOptions(cluster="llmtap"))], []]
    for table in schema.SHARDING:
        assert engines[table] == "Distributed", table
        assert engines[f"{table}{schema.LOCAL}"] in ("MergeTree", "AggregatingMergeTree"), table
    assert counts["otel_traces"] == counts["otel_traces_local"] == 40
    assert counts["llm_calls"] == counts["llm_calls_local"] == 40
    assert counts["otel_traces_trace_id_ts"] > 0 and counts["shards"] == 1


def test_cluster_ddl_runs_on_every_node_with_replicated_engines() -> None:
    options = schema.SchemaOptions(cluster="prod")
    statements = [s for _version, _description, ddl in schema.migrations(options) for s in ddl]
    assert all(" ON CLUSTER `prod`" in s for s in statements)
    engines = re.findall(r"ENGINE = (\w+)", "\n".join(statements))
    assert {e for e in engines if e not in ("Null", "Distributed")} == {
        "ReplicatedMergeTree", "ReplicatedAggregatingMergeTree"}
    assert engines.count("Distributed") == len(schema.SHARDING)
    # without a cluster, version 3 changes nothing
    assert schema.migrations(schema.SchemaOptions())[2][2] == []
