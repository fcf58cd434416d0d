"""A read-only ClickHouse HTTP interface over the embedded store.

chDB allows one engine per process, so while the collector writes the embedded store it is also the
only way to read it. This endpoint speaks enough of ClickHouse's HTTP protocol (`GET /?query=`,
`POST /` with the query as body, `FORMAT` and `default_format`, settings as URL parameters, `/ping`)
for clickhouse-connect, curl and Grafana's ClickHouse data source.

Read-only means read-only: only SELECT, WITH, SHOW, DESCRIBE, EXISTS and EXPLAIN run, with
`readonly = 2` in force; table functions and engines that reach files, processes or the network,
and system tables that reveal files or server internals, are refused.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import uuid
from typing import Any

from aiohttp import web

from llmtap.collector.telemetry import split_endpoint

log = logging.getLogger("llmtap.exporter.clickhouse.read")

_ALLOWED_STATEMENTS = {"select", "with", "show", "describe", "desc", "exists", "explain"}
_FORBIDDEN_FUNCTIONS = (
    "file", "url", "urlcluster", "s3", "s3cluster", "gcs", "azureblobstorage", "azureblobstoragecluster", "hdfs",
    "hdfscluster", "remote", "remotesecure", "cluster", "clusterallreplicas", "mysql", "postgresql", "mongodb",
    "redis", "sqlite", "odbc", "jdbc", "executable", "input", "iceberg", "icebergs3", "deltalake", "hudi",
    "python", "dictionary", "fuzzjson", "fuzzquery", "loop", "merge", "view", "viewifpermitted", "format",
    "filesystem", "arrowflight", "ytsaurus",
)
_FORBIDDEN_CALL = re.compile(r"\b(" + "|".join(_FORBIDDEN_FUNCTIONS) + r")\s*\(", re.IGNORECASE)
_FORBIDDEN_SYSTEM = re.compile(
    r"\bsystem\s*\.\s*(disks|storage_policies|filesystem_cache\w*|remote_data_paths|detached_parts|"
    r"user_directories|users|roles|grants|quotas\w*|settings_profile\w*|row_policies|zookeeper\w*|"
    r"stack_trace|processes|query_log|text_log|crash_log|server_settings|build_options|"
    r"named_collections|certificates|backups|dictionaries|user_defined_functions|functions_\w+)\b",
    re.IGNORECASE,
)
_INTO_OUTFILE = re.compile(r"\binto\s+outfile\b", re.IGNORECASE)
# URL parameters that belong to the HTTP transport, not to the query's settings.
_TRANSPORT_PARAMS = {
    "query", "database", "default_format", "query_id", "session_id", "session_timeout", "session_check",
    "compress", "decompress", "user", "password", "quota_key", "buffer_size", "wait_end_of_query",
    "enable_http_compression", "http_zlib_compression_level", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "add_http_cors_header", "client_protocol_version", "role",
    "http_response_buffer_size", "cancel_http_readonly_queries_on_client_close", "readonly",
    "output_format_arrow_compression_method", "date_time_input_format", "insert_deduplicate",
}
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


class ForbiddenQueryError(Exception):
    pass


def check_read_only(query: str) -> None:
    """Refuse anything but a read of the store's own tables."""
    code = _COMMENT.sub(" ", query)
    code = _STRING_LITERAL.sub("''", code)
    statements = [s for s in code.split(";") if s.strip()]
    if len(statements) != 1:
        raise ForbiddenQueryError("exactly one statement per request")
    first = statements[0].strip().split(None, 1)[0].lower().lstrip("(")
    if first not in _ALLOWED_STATEMENTS:
        raise ForbiddenQueryError(f"{first.upper()} is not allowed: this endpoint is read-only")
    if _FORBIDDEN_CALL.search(code):
        raise ForbiddenQueryError("table functions that reach files, processes or the network are not allowed")
    if _FORBIDDEN_SYSTEM.search(code):
        raise ForbiddenQueryError("this system table is not readable through the read endpoint")
    if _INTO_OUTFILE.search(code):
        raise ForbiddenQueryError("INTO OUTFILE is not allowed")


_FORMAT_AT_END = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)


class ReadAPI:
    def __init__(self, dsn: str, endpoint: str, database: str):
        self.dsn = dsn
        self.endpoint = endpoint
        self.database = database
        self._client: Any = None
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        from llmtap.exporters.clickhouse.exporter import connect

        self._client = await asyncio.to_thread(connect, self.dsn)
        app = web.Application(client_max_size=4 * 2**20)
        app.router.add_get("/ping", self._ping)
        app.router.add_route("*", "/", self._query)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        host, port = split_endpoint(self.endpoint)
        await web.TCPSite(self._runner, host, port, reuse_address=True).start()
        log.info("read-only ClickHouse HTTP interface on http://%s", self.endpoint)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _ping(self, request: web.Request) -> web.Response:
        return web.Response(text="Ok.\n")

    async def _query(self, request: web.Request) -> web.Response:
        if request.method not in ("GET", "POST", "HEAD"):
            return self._error(405, 0, f"method {request.method} not allowed")
        params = request.query
        query = params.get("query", "")
        if request.method == "POST":
            body = await request.text()
            query = f"{query}\n{body}" if query else body
        if not query.strip():
            return web.Response(text="Ok.\n")
        try:
            check_read_only(query)
        except ForbiddenQueryError as exc:
            return self._error(403, 164, f"Cannot execute query in readonly mode: {exc}. (READONLY)")
        fmt = None
        if not _FORMAT_AT_END.search(_STRING_LITERAL.sub("''", query)):
            fmt = params.get("default_format", "TabSeparated")
        # query parameters (`param_x` for `{x:Type}`) travel as settings, in ClickHouse's own text form
        settings: dict[str, Any] = {k: v for k, v in params.items() if k not in _TRANSPORT_PARAMS}
        settings["readonly"] = 2
        query_id = params.get("query_id") or str(uuid.uuid4())
        started = time.monotonic()
        try:
            data = await asyncio.to_thread(self._run, query, fmt, settings)
        except Exception as exc:
            message = str(exc)
            match = re.search(r"Code: (\d+)", message)
            code = int(match.group(1)) if match else 1002
            status = 403 if code == 164 else 404 if code in (60, 81) else 400
            return self._error(status, code, message)
        fmt_used = fmt or _FORMAT_AT_END.search(query).group(1)  # type: ignore[union-attr]
        elapsed_ns = int((time.monotonic() - started) * 1e9)
        headers = {
            "X-ClickHouse-Format": fmt_used,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Server-Display-Name": "llmtap",
            "X-ClickHouse-Summary": f'{{"read_rows":"0","read_bytes":"0","written_rows":"0","written_bytes":"0",'
                                    f'"total_rows_to_read":"0","result_rows":"0","result_bytes":"{len(data)}",'
                                    f'"elapsed_ns":"{elapsed_ns}"}}',
        }
        content_type = "application/json" if fmt_used.upper().startswith("JSON") else \
            "text/tab-separated-values" if fmt_used.startswith("TabSeparated") or fmt_used == "TSV" else \
            "application/octet-stream"
        return web.Response(body=data, headers=headers, content_type=content_type)

    def _run(self, query: str, fmt: str | None, settings: dict[str, Any]) -> bytes:
        with self._lock:
            result: bytes = self._client.raw_query(query, settings=settings, fmt=fmt)
            return result

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        text = message if message.startswith("Code:") else f"Code: {code}. DB::Exception: {message}"
        return web.Response(status=status, text=text + "\n", headers={"X-ClickHouse-Exception-Code": str(code)})
