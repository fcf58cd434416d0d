"""grafana/: the dashboards are what the generator makes and fit the foundation SDK's types; the data sources
link to each other; and every query of every dashboard returns data: PromQL on the real Prometheus after
`llmtap demo` has gone through the collector (remote write, plus a scrape of the collector's own metrics and
the alert rules' recording rules), ClickHouse SQL on the collector's embedded store through its read endpoint,
both with the dashboard variables and macros expanded as Grafana and the ClickHouse plugin would."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.conftest import Process, clickhouse_config, free_port, read_client, start_process, stop_process, wait_for
from tests.prometheus_server import Prometheus, start_prometheus

grafana_generator = pytest.importorskip("grafana.generator", reason="grafana-foundation-sdk needs Python 3.11")

GRAFANA = Path(__file__).parent.parent / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCES = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "llmtap.yaml").read_text())["datasources"]


def _targets(board: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target


def _datasource_type(target: dict[str, Any]) -> str:
    return str(target["datasource"]["type"])


# -- the JSON ----------------------------------------------------------------------------------------------

def test_committed_dashboards_are_what_the_generator_makes() -> None:
    assert grafana_generator.stale() == [], "run `python -m grafana.generator`"
    assert {p.stem for p in DASHBOARDS} == set(grafana_generator.DASHBOARDS)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_fits_the_sdk_types_and_the_provisioned_datasources(path: Path) -> None:
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    data = json.loads(path.read_text())
    parsed = Dashboard.from_json(data)
    assert json.loads(json.dumps(parsed, cls=JSONEncoder)) == data, "fields the SDK types do not know"
    assert data["uid"] == path.stem and data["title"]
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    uids = {d["uid"]: d["type"] for d in DATASOURCES}
    refs = [t["datasource"] for _, t in _targets(data)] + [p["datasource"] for p in data["panels"] if "datasource" in p]
    refs += [v["datasource"] for v in data["templating"]["list"] if "datasource" in v]
    assert refs
    for ref in refs:
        assert uids.get(ref["uid"]) == ref["type"], f"{ref} is not a provisioned data source"
    for title, target in _targets(data):
        assert target["refId"], title
        assert target.get("expr") or target.get("rawSql"), title


def test_datasources_link_to_each_other() -> None:
    by_uid = {d["uid"]: d for d in DATASOURCES}
    assert len(by_uid) == len(DATASOURCES)
    assert {d["type"] for d in DATASOURCES} == {"prometheus", "tempo", "loki", "grafana-clickhouse-datasource"}
    tempo = by_uid["llmtap-tempo"]["jsonData"]
    assert by_uid[tempo["tracesToLogsV2"]["datasourceUid"]]["type"] == "loki"
    assert by_uid[tempo["tracesToMetrics"]["datasourceUid"]]["type"] == "prometheus"
    assert by_uid[tempo["serviceMap"]["datasourceUid"]]["type"] == "prometheus"
    for field in by_uid["llmtap-loki"]["jsonData"]["derivedFields"]:
        assert by_uid[field["datasourceUid"]]["type"] == "tempo"
        re.compile(field["matcherRegex"])
    for exemplar in by_uid["llmtap-prometheus"]["jsonData"]["exemplarTraceIdDestinations"]:
        assert by_uid[exemplar["datasourceUid"]]["type"] == "tempo"
    clickhouse = by_uid["llmtap-clickhouse"]["jsonData"]
    # the keys the grafana-clickhouse-datasource plugin reads (its CHConfig), and llmtap's OTel-schema tables
    assert clickhouse["protocol"] in ("http", "native")
    assert {"host", "port", "protocol", "username", "defaultDatabase", "traces", "logs"} <= set(clickhouse)
    assert clickhouse["traces"] == {"defaultDatabase": "default", "defaultTable": "otel_traces",
                                    "otelEnabled": True, "otelVersion": "latest"}
    assert clickhouse["logs"]["defaultTable"] == "otel_logs" and clickhouse["logs"]["otelEnabled"] is True
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "llmtap.yaml").read_text())
    assert provider["providers"][0]["type"] == "file" and provider["providers"][0]["options"]["path"]


# -- the queries, executed ---------------------------------------------------------------------------------

FROM_S, TO_S = int(time.time()) - 6 * 3600, int(time.time()) + 3600


def expand_promql(expr: str) -> str:
    """Grafana's expansion with every variable on All (`.*`) and the built-in intervals."""
    expr = expr.replace("$__rate_interval", "2m").replace("$__range", "1h").replace("$__interval", "15s")
    return re.sub(r"\$\{?(service|provider|model|tenant|instance)\}?", ".*", expr)


def expand_sql(sql: str, values: dict[str, list[str]]) -> str:
    """The ClickHouse plugin's macros and Grafana's variable formats, with every variable on All."""
    sql = re.sub(r"\$__timeFilter\((\w+)\)",
                 rf"\1 >= toDateTime({FROM_S}) AND \1 <= toDateTime({TO_S})", sql)
    sql = re.sub(r"\$__timeInterval\((\w+)\)", r"toStartOfInterval(toDateTime(\1), INTERVAL 60 second)", sql)
    for name, options in values.items():
        sql = sql.replace(f"${{{name}:singlequote}}", ",".join("'" + v.replace("'", "\\'") + "'" for v in options))
    sql = re.sub(r"\$\{(service|provider|model|tenant):regex\}", ".*", sql)
    return sql.replace("${search}", "")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, Process]]:
    """Prometheus (alert rules loaded, evaluated every second) ← llmtap ← `llmtap demo`, twice."""
    tmp = tmp_path_factory.mktemp("grafana")
    rules = tmp / "llmtap-rules.yaml"
    rules.write_text((GRAFANA / "alerts" / "llmtap-rules.yaml").read_text().replace("interval: 1m", "interval: 1s"))
    ports = {k: free_port() for k in ("grpc", "http", "read", "telemetry")}
    prometheus = start_prometheus(tmp / "prometheus", scrape=f"127.0.0.1:{ports['telemetry']}", rules=rules)
    config = clickhouse_config(tmp, ports)
    config = config.replace("exporters:\n  clickhouse:", "exporters:\n  prometheus: {endpoint: '"
                            + prometheus.remote_write + "', batch: {flush_interval: 100ms}}\n  clickhouse:")
    config = config.replace("metrics: {receivers: [otlp, genai_metrics], exporters: [clickhouse]}",
                            "metrics: {receivers: [otlp, genai_metrics], exporters: [clickhouse, prometheus]}")
    (tmp / "llmtap.yaml").write_text(config)
    collector = start_process(tmp / "llmtap.yaml", tmp / "collector.log", ports)
    try:
        for _ in range(2):  # two flushes of the connector apart: more than one sample per series
            subprocess.run([sys.executable, "-m", "llmtap.collector.cli", "demo", "--calls", "300",
                            "--endpoint", f"http://127.0.0.1:{ports['http']}"], check=True, timeout=120)
            time.sleep(2.5)
        wait_for(lambda: (prometheus.value("min(count_over_time(llmtap_requests_total[5m]))") or 0) >= 2, timeout=60)
        wait_for(lambda: prometheus.query("llmtap:cost_usd:tenant_1d"), timeout=60)
        client = read_client(collector)
        wait_for(lambda: client.query("SELECT count() FROM llm_calls").result_rows[0][0] >= 600, timeout=60)
        yield prometheus, collector
    finally:
        stop_process(collector)
        prometheus.stop()


def _finite(result: list[dict[str, Any]]) -> bool:
    return any(not math.isnan(float(r["value"][1])) for r in result)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_query_returns_data(path: Path, stack: tuple[Prometheus, Process]) -> None:
    prometheus, collector = stack
    board = json.loads(path.read_text())
    client = read_client(collector)
    values: dict[str, list[str]] = {}
    empty: list[str] = []
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        if variable["datasource"]["type"] == "prometheus":
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
            assert match, query
            r = requests.get(f"{prometheus.url}/api/v1/label/{match[2]}/values",
                             params={"match[]": expand_promql(match[1])}, timeout=10)
            r.raise_for_status()
            values[variable["name"]] = r.json()["data"]
        else:
            values[variable["name"]] = [row[0] for row in client.query(expand_sql(query, {})).result_rows]
        if not values[variable["name"]]:
            empty.append(f"variable {variable['name']}: {query}")
    for title, target in _targets(board):
        if _datasource_type(target) == "prometheus":
            expr = expand_promql(target["expr"])
            assert not re.search(r"\$(\{|\w)", expr), expr
            if not _finite(prometheus.query(expr)):
                empty.append(f"{title}: {expr}")
        else:
            sql = expand_sql(target["rawSql"], values)
            assert not re.search(r"\$(\{|\w)", sql), sql
            rows = client.query(sql).result_rows
            if not rows or all(v in (None, 0) for v in rows[0][:1]):
                empty.append(f"{title}: {sql}")
    assert not empty, "queries without data:\n" + "\n".join(empty)
