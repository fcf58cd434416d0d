"""What every dashboard shares: the provisioned data sources, the filter variables, and panel shapes.

The data source UIDs are the ones `grafana/provisioning/datasources/llmtap.yaml` gives, so a provisioned
Grafana opens every dashboard with its queries bound; the tests check the two agree.
"""

from __future__ import annotations

import json
import string
from typing import Any
from urllib.parse import quote

from grafana_foundation_sdk.builders import common as options
from grafana_foundation_sdk.builders import dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

PROMETHEUS = model.DataSourceRef(type_val="prometheus", uid="llmtap-prometheus")
CLICKHOUSE = model.DataSourceRef(type_val="grafana-clickhouse-datasource", uid="llmtap-clickhouse")
TEMPO = model.DataSourceRef(type_val="tempo", uid="llmtap-tempo")

# The genai_metrics connector's series carry these labels (OTLP attribute names, sanitized by the prometheus
# exporter); `job` is the service.name.
SERVICE, PROVIDER, MODEL, TENANT = "job", "gen_ai_provider_name", "gen_ai_request_model", "llmtap_tenant_id"
FILTER = f'{SERVICE}=~"$service", {PROVIDER}=~"$provider", {MODEL}=~"$model", {TENANT}=~"$tenant"'
"""The label matchers of the four variables; `.*` (All) also matches series without the label."""

RATE = "$__rate_interval"
REQUESTS = f"llmtap_requests_total{{{FILTER}}}"
FAILED = f'llmtap_requests_total{{{FILTER}, error_type!=""}}'

# The ClickHouse panels filter llm_calls with the same Prometheus variables: their regex form, and `.*` (All),
# are matched by ClickHouse's match() too.
CH_FILTER = ("$__timeFilter(Timestamp) AND match(ServiceName, '^(${service:regex})$') "
             "AND match(RequestModel, '^(${model:regex})$') AND match(TenantId, '^(${tenant:regex})$')")


def quantile(q: float, histogram: str, by: str = "", window: str = RATE) -> str:
    """The `q` quantile of an llmtap histogram under the filter variables, per `by` label(s) if given."""
    labels = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) (rate({histogram}_bucket{{{FILTER}}}[{window}])))"


def base(uid: str, title: str, description: str) -> dashboard.Dashboard:
    return (dashboard.Dashboard(title).uid(uid).description(description).tags(["llmtap", "genai"])
            .time("now-6h", "now").refresh("1m").timezone("browser").tooltip(model.DashboardCursorSync.CROSSHAIR)
            .link(dashboard.DashboardLink("llmtap").type(model.DashboardLinkType.DASHBOARDS).tags(["llmtap"])
                  .as_dropdown(True).include_vars(True).keep_time(True)))


def _multi_value(variable: dashboard.QueryVariable) -> dashboard.QueryVariable:
    """Several values or All, refreshed with the time range, sorted, All selected."""
    return (variable.refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(model.VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True).current(model.VariableOption(selected=True, text="All", value="$__all")))


def label_variable(name: str, label: str, title: str, depends: str = "",
                   metric: str = "llmtap_requests_total") -> dashboard.QueryVariable:
    """A multi-value Prometheus variable over the values of `label` on `metric`; All is `.*`."""
    selector = f"{metric}{{{depends}}}" if depends else metric
    return _multi_value(dashboard.QueryVariable(name).label(title).datasource(PROMETHEUS)
                        .query(f"label_values({selector}, {label})").all_value(".*"))


def filter_variables(board: dashboard.Dashboard) -> dashboard.Dashboard:
    """service → provider → model → tenant, each narrowed by the ones before it."""
    return (board
            .with_variable(label_variable("service", SERVICE, "Service"))
            .with_variable(label_variable("provider", PROVIDER, "Provider", f'{SERVICE}=~"$service"'))
            .with_variable(label_variable("model", MODEL, "Model",
                                          f'{SERVICE}=~"$service", {PROVIDER}=~"$provider"'))
            .with_variable(label_variable("tenant", TENANT, "Tenant", f'{SERVICE}=~"$service"')))


def promql(expr: str, legend: str = "", instant: bool = False, table_format: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).datasource(PROMETHEUS)
    if legend:
        query = query.legend_format(legend)
    query = query.instant() if instant else query.range()
    if table_format:
        query = query.format(PromQueryFormat.TABLE)
    return query


def _with_targets(panel: Any, targets: list[cogbuilder.Builder[cogvariants.Dataquery]]) -> Any:
    """The targets, lettered A, B, ...; the panel's data source is theirs."""
    panel = panel.datasource(targets[0].build().datasource)  # type: ignore[attr-defined]
    for ref, target in zip(string.ascii_uppercase, targets, strict=False):
        target.ref_id(ref)  # type: ignore[attr-defined]
        panel = panel.with_target(target)
    return panel


def series(title: str, unit: str, *targets: cogbuilder.Builder[cogvariants.Dataquery], description: str = "",
           width: int = 12, height: int = 8, stacked: bool = False) -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).description(description).unit(unit)
             .span(width).height(height).line_width(1).fill_opacity(10).show_points(common.VisibilityMode.NEVER)
             .legend(options.VizLegendOptions().display_mode(common.LegendDisplayMode.TABLE)
                     .placement(common.LegendPlacement.BOTTOM).show_legend(True).calcs(["mean", "max"]))
             .tooltip(options.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                      .sort(common.SortOrder.DESCENDING)))
    if stacked:
        panel = panel.stacking(options.StackingConfig().mode(common.StackingMode.NORMAL))
    return _with_targets(panel, list(targets))  # type: ignore[no-any-return]


def single(title: str, unit: str, target: cogbuilder.Builder[cogvariants.Dataquery], description: str = "",
           width: int = 6, height: int = 4, decimals: float | None = None) -> stat.Panel:
    panel = (stat.Panel().title(title).description(description).unit(unit).span(width)
             .height(height).graph_mode(common.BigValueGraphMode.AREA).color_mode(common.BigValueColorMode.VALUE)
             .reduce_options(options.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
    if decimals is not None:
        panel = panel.decimals(decimals)
    return _with_targets(panel, [target])  # type: ignore[no-any-return]


def grid(title: str, *targets: cogbuilder.Builder[cogvariants.Dataquery], description: str = "", width: int = 12,
         height: int = 8, unit: str = "", transformations: list[model.DataTransformerConfig] | None = None,
         links: list[dict[str, object]] | None = None, link_field: str = "") -> table.Panel:
    panel = (table.Panel().title(title).description(description).span(width)
             .height(height).show_header(True).cell_height(common.TableCellHeight.SM))
    if unit:
        panel = panel.unit(unit)
    for transformation in transformations or []:
        panel = panel.with_transformation(transformation)
    if links and link_field:
        panel = panel.override_by_name(link_field, [model.DynamicConfigValue(
            id_val="links", value=links)])
    return _with_targets(panel, list(targets))  # type: ignore[no-any-return]


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title)


# ---------------------------------------------------------------------------------------------
# ClickHouse: the grafana-clickhouse-datasource plugin's query, which the foundation SDK has no type for.

CLICKHOUSE_PLUGIN = "grafana-clickhouse-datasource"
FORMAT_TIME_SERIES, FORMAT_TABLE = 0, 1


class ClickHouseQuery(cogvariants.Dataquery):
    """A SQL-editor query of the ClickHouse plugin (`editorType: sql`)."""

    def __init__(self, raw_sql: str = "", query_type: str = "table", format_val: int = FORMAT_TABLE,
                 ref_id: str = "", datasource: object | None = None) -> None:
        self.raw_sql = raw_sql
        self.query_type = query_type
        self.format_val = format_val
        self.ref_id = ref_id
        self.datasource = datasource

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {"refId": self.ref_id, "editorType": "sql", "rawSql": self.raw_sql,
                                      "queryType": self.query_type, "format": self.format_val,
                                      "pluginVersion": "4.0.0"}
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClickHouseQuery:
        return cls(raw_sql=data.get("rawSql", ""), query_type=data.get("queryType", "table"),
                   format_val=data.get("format", FORMAT_TABLE), ref_id=data.get("refId", ""),
                   datasource=data.get("datasource"))


cogruntime.register_dataquery_variant(cogruntime.DataqueryConfig(
    identifier=CLICKHOUSE_PLUGIN, from_json_hook=ClickHouseQuery.from_json))


class ClickHouseSQL(cogbuilder.Builder[ClickHouseQuery]):
    def __init__(self, raw_sql: str, time_series: bool = False) -> None:
        self._internal = ClickHouseQuery(
            raw_sql=raw_sql.strip(), query_type="timeSeries" if time_series else "table",
            format_val=FORMAT_TIME_SERIES if time_series else FORMAT_TABLE, datasource=CLICKHOUSE)

    def ref_id(self, ref_id: str) -> ClickHouseSQL:
        self._internal.ref_id = ref_id
        return self

    def build(self) -> ClickHouseQuery:
        return self._internal


def clickhouse_variable(name: str, title: str, sql: str) -> dashboard.QueryVariable:
    """A multi-value variable from a ClickHouse query; All is the list of every value."""
    return _multi_value(dashboard.QueryVariable(name).label(title).datasource(CLICKHOUSE).query(sql.strip()))


def trace_link() -> dict[str, object]:
    """A data link on a TraceId cell that opens the trace in Tempo through Explore."""
    pane = {"datasource": TEMPO.uid, "queries": [{"refId": "A", "datasource": TEMPO.to_json(), "queryType": "traceql",
                                                   "query": "${__value.raw}"}],
            "range": {"from": "now-24h", "to": "now"}}
    return {"title": "Open trace in Tempo",
            "url": "/explore?schemaVersion=1&panes=" + quote(json.dumps({"trace": pane}), safe="${}_.")}
