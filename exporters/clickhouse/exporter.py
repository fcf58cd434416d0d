"""The ClickHouse exporter: hands OTLP bytes to ClickHouse, which flattens them (DESIGN.md, "The hot path").

One insert per batch: the queued requests, each prefixed by its varint length, `INSERT INTO
otlp_<signal>_in FORMAT Protobuf` with the schema sent along; logs requests of `llmtap.llm_call` records only
(the genai_metrics connector's) become llm_calls rows here, read as the llm_calls view reads them
(`wire.call_rows`), and go in as `RowBinary`. A deduplication token per batch makes a
retried insert land once. The same code serves the embedded chDB engine (`chdb:///path`) and a
ClickHouse server (`http(s)://user:pass@host:8123/db`).
"""

from __future__ import annotations

import logging
import queue
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from pydantic import Field

from llmtap import semconv
from llmtap.collector.component import Exporter, Host
from llmtap.collector.config import Duration
from llmtap.collector.exporter import ExporterSettings
from llmtap.collector.queue import BatchConfig, PermanentError, RetryableError
from llmtap.collector.signals import Signal
from llmtap.collector.wire import call_rows, events_only, varint
from llmtap.exporters.clickhouse import schema

log = logging.getLogger("llmtap.exporter.clickhouse")

PROTO_SCHEMA = resources.files("llmtap.exporters.clickhouse").joinpath("otlp.proto").read_text()

# ClickHouse error codes that mean "this data will never insert": retrying cannot help.
_BAD_DATA_CODES = {6, 27, 33, 38, 41, 53, 69, 70, 72, 117, 434, 438, 439, 444, 2010}


_LLM_CALL = semconv.LLMTAP_LLM_CALL_EVENT.encode()
_CALLS_TABLE = "llm_calls"

class ClickHouseExporterConfig(ExporterSettings):
    dsn: str
    """`chdb:///abs/path` for the embedded engine, or `http(s)://user:pass@host:8123/db` for a server."""
    database: str | None = None
    """Defaults to the DSN's database, else `default`."""
    ttl: Duration = 0.0
    """Rows older than this are dropped (`720h`); 0 keeps them for ever."""
    cluster: str | None = None
    """A cluster of the server's `remote_servers`: tables are created `ON CLUSTER` on every node as `<name>_local`
    (Replicated engines), with a Distributed `<name>` over them that inserts and queries go through."""
    replicated: bool = True
    """With `cluster`: Replicated engines on each node (needs ClickHouse Keeper); false for shards without
    replicas."""
    storage_policy: str | None = None
    """A storage policy name (e.g. hot and cold volumes) for the tables."""
    create_schema: bool = True
    read_endpoint: str | None = "127.0.0.1:8123"
    """For the embedded engine: serve a read-only ClickHouse HTTP interface here (null disables)."""
    connect_timeout: Duration = 10.0
    insert_parallelism: int | None = Field(default=None, ge=1, le=16)
    """A batch is split into this many inserts run at once: one insert flattens on one core. By default 2 for a
    server, and 1 for the embedded engine, which shares the collector's cores with the processors: there a
    second insert at once slows the processors more than it speeds the store (default pipeline, 2 cores:
    5,300-5,900 spans/s with 1, 3,700-4,600 with 2; with no processors 2 persists ~15 % more)."""
    batch: BatchConfig = BatchConfig(flush_interval=1.0)
    """ClickHouse wants few large inserts (each makes a part per table, and parts are merged in the background):
    a second's wait lets a batch grow (at 4,500 spans/s with content, ~4,500 spans per insert instead of ~900 at
    200 ms): ~25 % more spans/s end to end with every processor on, and a third less background merging."""

    @property
    def parallelism(self) -> int:
        if self.insert_parallelism is not None:
            return self.insert_parallelism
        return 1 if is_embedded(self.dsn) else 2


def connect(dsn: str, database: str | None = None, **settings: Any) -> Any:
    """A clickhouse-connect client for `dsn` (chDB or HTTP)."""
    kwargs: dict[str, Any] = {"dsn": dsn}
    if database:
        kwargs["database"] = database
    if settings:
        kwargs["settings"] = settings
    return clickhouse_connect.get_client(**kwargs)


def is_embedded(dsn: str) -> bool:
    return dsn.startswith("chdb:")


class ClickHouseExporter(Exporter):
    def __init__(self, component_id: str, config: ClickHouseExporterConfig):
        super().__init__(component_id)
        self.config = config
        self._clients: queue.Queue[Any] = queue.Queue()
        """One client per concurrent insert; clickhouse-connect clients are not shared across threads."""
        self._pool: ThreadPoolExecutor | None = None
        self.read_api: Any = None
        parsed = urlparse(config.dsn)
        dsn_db = parsed.path.strip("/") if not is_embedded(config.dsn) else ""
        self.database = config.database or dsn_db or "default"
        self.options = schema.SchemaOptions(self.database, int(config.ttl), config.cluster, config.storage_policy,
                                            config.replicated)

    async def start(self, host: Host) -> None:
        import asyncio

        if is_embedded(self.config.dsn):
            path = self.config.dsn[len("chdb://"):]
            if path.startswith("/"):
                from pathlib import Path

                Path(path).mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._connect)
        if self.config.read_endpoint and is_embedded(self.config.dsn):
            from llmtap.exporters.clickhouse.readapi import ReadAPI

            self.read_api = ReadAPI(self.config.dsn, self.config.read_endpoint, self.database)
            await self.read_api.start()

    def _connect(self) -> None:
        clients = [connect(self.config.dsn) for _ in range(self.config.parallelism)]
        if self.config.create_schema:
            migrate(clients[0], self.options)
        for client in clients:
            self._clients.put(client)
        self._pool = ThreadPoolExecutor(self.config.parallelism, thread_name_prefix=f"{self.id}-insert")

    async def shutdown(self) -> None:
        if self.read_api is not None:
            await self.read_api.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        while not self._clients.empty():
            self._clients.get_nowait().close()

    def export(self, signal: Signal, payloads: list[bytes], dedup_token: str) -> None:
        """Insert the batch as `insert_parallelism` parts at once, each with its own deduplication token.

        The split depends only on the batch, and a retried batch is re-formed identically (queue.py), so each
        part carries the same token again and a part that landed before a failure is not inserted twice.
        """
        pool = self._pool
        if pool is None:
            raise RetryableError("not connected")
        parts = split_batch(payloads, self.config.parallelism)
        if len(parts) == 1:
            refused = self._insert_isolating(signal, parts[0], dedup_token)
        else:
            futures = [pool.submit(self._insert_isolating, signal, part, f"{dedup_token}-{i}")
                       for i, part in enumerate(parts)]
            for error in [f.exception() for f in futures]:
                if error is not None:
                    raise error  # retryable: the whole batch again, deduplicated
            refused, offset = [], 0
            for part, future in zip(parts, futures, strict=True):
                refused += [offset + i for i in future.result()]
                offset += len(part)
        if refused:
            raise PermanentError(f"ClickHouse refused {len(refused)} of {len(payloads)} requests as invalid data",
                                 refused=refused)

    def _insert_isolating(self, signal: Signal, payloads: list[bytes], dedup_token: str) -> list[int]:
        """Insert; when ClickHouse refuses the data, halve the requests until the refused ones are alone, insert
        the rest, and return the indexes of the refused ones. The halves' tokens derive from the batch's, so a
        retried batch bisects the same way and nothing lands twice.

        Logs requests of `llmtap.llm_call` records only (the genai_metrics connector's) go straight into
        llm_calls as rows; the others, as two inserts isolated from each other (so a refusal of one never inserts
        the other again)."""
        table = schema.STAGING[signal.value][0]
        if signal is Signal.LOGS:
            calls: list[int] = []
            others: list[int] = []
            for i, payload in enumerate(payloads):
                (calls if events_only(payload, _LLM_CALL) else others).append(i)
            if calls and others:
                refused = [others[i] for i in self._bisecting(table, signal, [payloads[i] for i in others],
                                                              dedup_token)]
                refused += [calls[i] for i in self._bisecting(_CALLS_TABLE, signal,
                                                              [payloads[i] for i in calls], f"{dedup_token}.calls")]
                return sorted(refused)
            if calls:
                table = _CALLS_TABLE
        return self._bisecting(table, signal, payloads, dedup_token)

    def _bisecting(self, table: str, signal: Signal, payloads: list[bytes], dedup_token: str) -> list[int]:
        try:
            self._insert(table, signal, payloads, dedup_token)
            return []
        except PermanentError:
            if len(payloads) == 1:
                return [0]
        middle = len(payloads) // 2
        left = self._bisecting(table, signal, payloads[:middle], f"{dedup_token}.0")
        right = self._bisecting(table, signal, payloads[middle:], f"{dedup_token}.1")
        return left + [middle + i for i in right]

    def _insert(self, table: str, signal: Signal, payloads: list[bytes], dedup_token: str) -> None:
        settings: dict[str, Any] = {
            "insert_deduplication_token": dedup_token,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
        }
        if self.options.cluster:  # acknowledged means on the shards, not in this node's queue for them
            settings["distributed_foreground_insert"] = 1
        columns: tuple[str, ...] | None = None
        if table == _CALLS_TABLE:  # rows made here: no staging table, no view (~6 of 15 us of chDB CPU per record)
            try:
                blob = b"".join([call_rows(p, schema.CALL_KEYS, _LLM_CALL, b"service.name") for p in payloads])
            except ValueError as exc:
                raise PermanentError(str(exc)) from exc
            columns, fmt = schema.LLM_CALLS_COLUMNS, "RowBinary"
        else:
            blob = b"".join([part for p in payloads for part in (varint(len(p)), p)])  # each payload copied once
            fmt = "Protobuf"
            settings.update({"format_schema_source": "string", "format_schema": PROTO_SCHEMA,
                             "format_schema_message_name": schema.STAGING[signal.value][1],
                             "input_format_protobuf_oneof_presence": 1})
        client = self._clients.get()
        try:
            client.raw_insert(f"`{self.database}`.{table}", columns, blob, settings=settings, fmt=fmt)
        except OperationalError as exc:
            raise RetryableError(str(exc)) from exc
        except DatabaseError as exc:
            code = getattr(exc, "code", None) or _error_code(str(exc))
            if code in _BAD_DATA_CODES:
                raise PermanentError(str(exc)) from exc
            raise RetryableError(str(exc)) from exc
        finally:
            self._clients.put(client)


def split_batch(payloads: list[bytes], parts: int) -> list[list[bytes]]:
    """Contiguous runs of about equal bytes; at most `parts`, never an empty one."""
    total = sum(len(p) for p in payloads)
    target = total / max(1, min(parts, len(payloads)))
    runs: list[list[bytes]] = [[]]
    size = 0
    for payload in payloads:
        if runs[-1] and size >= target and len(runs) < parts:
            runs.append([])
            size = 0
        runs[-1].append(payload)
        size += len(payload)
    return runs


def _error_code(message: str) -> int | None:
    import re

    match = re.search(r"Code: (\d+)", message)
    return int(match.group(1)) if match else None


def migrate(client: Any, options: schema.SchemaOptions) -> list[int]:
    """Apply the migrations not yet recorded; returns the versions applied now."""
    if options.database != "default":
        client.command(f"CREATE DATABASE IF NOT EXISTS `{options.database}`{options.on_cluster}")
    client.command(schema.migrations_table(options))
    table = f"`{options.database}`.{schema.MIGRATIONS_TABLE}"
    if options.cluster:  # each node records what ran through it; ON CLUSTER ran it everywhere
        table = f"clusterAllReplicas('{options.cluster}', {table})"
    done = {row[0] for row in client.query(f"SELECT DISTINCT version FROM {table}").result_rows}
    applied = []
    for version, description, statements in schema.migrations(options):
        if version in done:
            continue
        log.info("ClickHouse schema: applying migration %d (%s)", version, description)
        for statement in statements:
            client.command(statement)
        client.insert(schema.MIGRATIONS_TABLE, [[version, description]], column_names=["version", "description"],
                      database=options.database)
        applied.append(version)
    return applied
