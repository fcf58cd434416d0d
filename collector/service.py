"""Builds the pipelines from a config and runs them: start, serve, drain on SIGTERM, shut down.

A receiver's request goes to every pipeline of its signal that lists the receiver; each pipeline runs
its processors and offers the result to its exporters' queues. The request is queued everywhere or
nowhere: room is checked in every queue before anything is put, so a client retrying after
backpressure never causes a duplicate in the exporters that had room.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import signal as os_signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llmtap.collector import components
from llmtap.collector.component import (
    BackpressureError,
    Component,
    Connector,
    Downstream,
    Exporter,
    Host,
    Processor,
    Receiver,
)
from llmtap.collector.config import (
    DEFAULT_CONFIG,
    SIGNALS,
    ConfigError,
    Model,
    ServiceConfig,
    Source,
    default_data_dir,
    parse_yaml,
    split_id,
    substitute_env,
    validate_model,
)
from llmtap.collector.exporter import ExporterSettings
from llmtap.collector.queue import BoundedQueue, Sender
from llmtap.collector.signals import Batch, Signal
from llmtap.collector.telemetry import SelfTelemetry

log = logging.getLogger("llmtap.service")

_SECTIONS = ("receivers", "processors", "connectors", "exporters", "extensions", "service")
_REGISTRIES = {"receivers": components.RECEIVERS, "processors": components.PROCESSORS,
               "connectors": components.CONNECTORS, "exporters": components.EXPORTERS}


@dataclass
class PipelineSpec:
    name: str
    signal: Signal
    receivers: list[str]
    processors: list[str]
    exporters: list[str]


@dataclass
class Config:
    """A validated config: typed component configs by id, and the pipelines that use them."""

    receivers: dict[str, Model]
    processors: dict[str, Model]
    exporters: dict[str, Model]
    pipelines: list[PipelineSpec]
    service: ServiceConfig
    data_dir: Path
    source: Source = field(repr=False)
    connectors: dict[str, Model] = field(default_factory=dict)


def load_config(path: str | Path | None, env: dict[str, str] | None = None) -> Config:
    """Read and validate a config file (or the embedded default when `path` is None)."""
    if path is None:
        data_dir = Path(default_data_dir())
        text, filename = DEFAULT_CONFIG.replace("${data_dir}", str(data_dir)), "<embedded default>"
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        filename = str(path)
    return parse_config(text, filename, env)


def parse_config(text: str, filename: str = "<config>", env: dict[str, str] | None = None) -> Config:
    raw, source = parse_yaml(text, filename)
    if not isinstance(raw, dict):
        raise ConfigError(f"{filename}: the config must be a mapping with receivers, exporters and service")
    raw = substitute_env(raw, source, env=env)
    for key in raw:
        if key not in _SECTIONS:
            raise ConfigError(f"{source.where((key,))}: unknown section (allowed: {', '.join(_SECTIONS)})")
    service = validate_model(ServiceConfig, raw.get("service"), source, ("service",))
    assert isinstance(service, ServiceConfig)
    typed: dict[str, dict[str, Model]] = {}
    for section, registry in _REGISTRIES.items():
        entries = raw.get(section) or {}
        if not isinstance(entries, dict):
            raise ConfigError(f"{source.where((section,))}: must be a mapping of component ids to settings")
        typed[section] = {}
        for cid, settings in entries.items():
            kind = split_id(cid)[0]
            if kind not in registry:
                known = ", ".join(sorted(registry)) or "none yet"
                raise ConfigError(f"{source.where((section, cid))}: unknown {section[:-1]} type {kind!r} "
                                  f"(known: {known})")
            typed[section][cid] = validate_model(registry[kind].config, settings, source, (section, cid))

    pipelines = []
    if not service.pipelines:
        raise ConfigError(f"{source.where(('service',))}: no pipelines")
    connectors = typed["connectors"]
    for name, spec in service.pipelines.items():
        kind = split_id(name)[0]
        where = ("service", "pipelines", name)
        if kind not in SIGNALS:
            raise ConfigError(f"{source.where(where)}: a pipeline name starts with traces, metrics or logs")
        signal = Signal(kind)
        for section, ids in (("receivers", spec.receivers), ("processors", spec.processors),
                             ("exporters", spec.exporters)):
            if section != "processors" and not ids:
                raise ConfigError(f"{source.where((*where, section))}: needs at least one")
            for i, cid in enumerate(ids):
                at = source.where((*where, section, i))
                if section != "exporters" and cid in connectors:
                    factory = components.CONNECTORS[split_id(cid)[0]]
                    takes = factory.outputs if section == "receivers" else factory.signals
                    if signal not in takes:
                        verb = "emit" if section == "receivers" else "take"
                        raise ConfigError(f"{at}: connector {cid!r} does not {verb} {signal.value}")
                    continue
                if cid not in typed[section]:
                    hint = " or connectors" if section != "exporters" else ""
                    raise ConfigError(f"{at}: {cid!r} is not defined under {section}{hint}")
                if signal not in _REGISTRIES[section][split_id(cid)[0]].signals:
                    raise ConfigError(f"{at}: {cid!r} does not take {signal.value}")
        pipelines.append(PipelineSpec(name, signal, spec.receivers, spec.processors, spec.exporters))
    for cid in connectors:
        fed = [p for p in pipelines if cid in p.receivers]
        feeding = [p for p in pipelines if cid in p.processors]
        if not fed or not feeding:
            missing = "the receivers of another pipeline" if not fed else "the processors of a pipeline"
            raise ConfigError(f"{source.where(('connectors', cid))}: connector {cid!r} must also be listed "
                              f"among {missing}")
        for p in fed:
            if cid in p.processors:
                raise ConfigError(f"{source.where(('service', 'pipelines', p.name))}: connector {cid!r} "
                                  "cannot feed a pipeline it is part of")
    data_dir = Path(service.data_dir).expanduser().resolve() if service.data_dir else default_data_dir()
    return Config(typed["receivers"], typed["processors"], typed["exporters"], pipelines, service, data_dir,
                  source, connectors)


class Service:
    """The running collector."""

    def __init__(self, config: Config):
        self.config = config
        self.telemetry = SelfTelemetry()
        self.receivers: dict[str, Receiver] = {}
        self.processors: dict[tuple[str, str], Processor] = {}  # (pipeline, processor id)
        self.exporters: dict[str, Exporter] = {}
        self.connectors: dict[str, Connector] = {}
        self.routes: dict[tuple[str, Signal], list[_Pipeline]] = {}  # (receiver or connector id, signal)
        self.queues: dict[tuple[str, Signal], BoundedQueue] = {}
        self.senders: list[Sender] = []
        self._started: list[Component] = []
        self._stop = asyncio.Event()
        self._turn = asyncio.Lock()

    # -- assembly ---------------------------------------------------------------------------------
    def _build(self) -> None:
        cfg = self.config
        for cid, ecfg in cfg.exporters.items():
            exporter = components.EXPORTERS[split_id(cid)[0]].create(cid, ecfg)
            assert isinstance(exporter, Exporter)
            self.exporters[cid] = exporter
        for cid, rcfg in cfg.receivers.items():
            receiver = components.RECEIVERS[split_id(cid)[0]].create(cid, rcfg)
            assert isinstance(receiver, Receiver)
            self.receivers[cid] = receiver
        for cid, ccfg in cfg.connectors.items():
            connector = components.CONNECTORS[split_id(cid)[0]].create(cid, ccfg)
            assert isinstance(connector, Connector)
            self.connectors[cid] = connector
        for p in cfg.pipelines:
            procs: list[Processor] = []
            for pid in p.processors:
                if pid in self.connectors:
                    procs.append(self.connectors[pid])
                    continue
                proc = components.PROCESSORS[split_id(pid)[0]].create(pid, cfg.processors[pid])
                assert isinstance(proc, Processor)
                self.processors[(p.name, pid)] = proc
                procs.append(proc)
            pipeline = _Pipeline(p.name, procs, [self._queue(eid, p.signal) for eid in p.exporters])
            for i, proc in enumerate(procs):
                if not isinstance(proc, Connector):
                    proc.downstream = Downstream(emit=functools.partial(self._release, pipeline, i + 1),
                                                 has_room=pipeline.has_room)
            for rid in p.receivers:
                self.routes.setdefault((rid, p.signal), []).append(pipeline)
        for cid, connector in self.connectors.items():
            fed = [p for (rid, _), ps in self.routes.items() if rid == cid for p in ps]
            connector.downstream = Downstream(emit=functools.partial(self._emit, cid),
                                              has_room=functools.partial(_all_have_room, fed))
        for rid, receiver in self.receivers.items():
            for signal in Signal:
                if (rid, signal) in self.routes:
                    receiver.consumers[signal] = functools.partial(self._consume, self.routes[(rid, signal)])

    # -- the hot path -----------------------------------------------------------------------------
    async def _consume(self, pipelines: list[_Pipeline], batch: Batch) -> None:
        """A receiver's request: run every pipeline, then queue the results everywhere or nowhere.

        Requests take turns, in arrival order, with a pass through the event loop before each: so at most one
        request's processing runs per loop iteration, and the receivers read, answer and refuse requests (and
        `/healthz` answers) between two, instead of after every request that became ready at once. The turn
        ends once the results are queued; the answer waits for them to be on disk, while the next request runs."""
        async with self._turn:
            await asyncio.sleep(0)
            plan = _Plan()
            await self._plan(pipelines, batch, plan)
            full = [q.name for q, b in plan.targets if not q.has_room(len(b.data()))]
            if full:
                raise BackpressureError(f"exporter queue full: {', '.join(full)}", retry_after=2.0)
            writes = plan.queue()
        await plan.written(writes)

    async def _plan(self, pipelines: list[_Pipeline], batch: Batch, plan: _Plan) -> None:
        last = len(pipelines) - 1
        for i, pipeline in enumerate(pipelines):
            current = batch.copy() if pipeline.processors and i != last else batch
            result = await self._run(pipeline, 0, current, plan)
            if result is not None and result.items:
                plan.targets.extend((q, result) for q in pipeline.queues)

    async def _run(self, pipeline: _Pipeline, start: int, batch: Batch, plan: _Plan) -> Batch | None:
        """The processors of `pipeline` from `start` on; what connectors derive is planned too."""
        current: Batch | None = batch
        for proc in pipeline.processors[start:]:
            assert current is not None
            spent = 0.0
            if isinstance(proc, Connector):
                began = time.thread_time()
                derived = proc.derive(current)
                spent = time.thread_time() - began
                for out in derived.batches:
                    await self._plan(self.routes.get((proc.id, out.signal), []), out, plan)
                if derived.commit is not None:
                    plan.commits.append(derived.commit)
            began = time.thread_time()
            current = await proc.process(current)
            self.telemetry.processor_cpu.labels(proc.id).inc(spent + time.thread_time() - began)
            if current is None:
                return None
        return current

    async def _release(self, pipeline: _Pipeline, start: int, batch: Batch) -> None:
        """Data a processor held back (already acknowledged): the rest of the pipeline, queued regardless."""
        plan = _Plan()
        result = await self._run(pipeline, start, batch, plan)
        if result is not None and result.items:
            plan.targets.extend((q, result) for q in pipeline.queues)
        await plan.written(plan.queue(force=True))

    async def _emit(self, connector_id: str, batch: Batch) -> None:
        """What a connector produces on its own schedule, into the pipelines it feeds, queued regardless."""
        plan = _Plan()
        await self._plan(self.routes.get((connector_id, batch.signal), []), batch, plan)
        await plan.written(plan.queue(force=True))

    def _queue(self, exporter_id: str, signal: Signal) -> BoundedQueue:
        key = (exporter_id, signal)
        if key in self.queues:
            return self.queues[key]
        exporter = self.exporters[exporter_id]
        settings = self.config.exporters[exporter_id]
        assert isinstance(settings, ExporterSettings)
        qc = settings.sending_queue
        directory = None
        if qc.persistent:
            safe = exporter_id.replace("/", "_")
            directory = self.config.data_dir / "queues" / safe / signal.value
        name = f"{exporter_id}/{signal.value}"
        queue = BoundedQueue(name, qc.max_bytes, directory, fsync=qc.fsync)
        self.queues[key] = queue
        self.telemetry.add_queue(queue)

        def export(payloads: list[bytes], token: str) -> None:
            exporter.export(signal, payloads, token)

        self.senders.append(Sender(queue, export, settings.batch, settings.retry_on_failure, self.telemetry))
        return queue

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        endpoint = self.config.service.telemetry.metrics.endpoint
        if endpoint:
            await self.telemetry.serve(endpoint)
        self._build()
        host = Host(data_dir=self.config.data_dir, telemetry=self.telemetry)
        try:
            for component in [*self.exporters.values(), *self.connectors.values(), *self.processors.values()]:
                await component.start(host)
                self._started.append(component)
            for sender in self.senders:
                sender.start()
            for receiver in self.receivers.values():
                await receiver.start(host)
                self._started.append(receiver)
        except BaseException:
            await self.shutdown(drain_timeout=0)
            raise
        self.telemetry.set_ready(True)
        log.info("llmtap is ready")

    async def shutdown(self, drain_timeout: float | None = None) -> None:
        """Stop taking data, drain queues for up to `drain_timeout`, leave the rest persisted."""
        timeout = self.config.service.shutdown_timeout if drain_timeout is None else drain_timeout
        self.telemetry.set_ready(False)
        receivers = [c for c in self._started if isinstance(c, Receiver)]
        for receiver in receivers:
            await receiver.shutdown()
        # Processors first: one holding data back (the tail sampler) releases it into the queues, which
        # then drain; exporters last.
        started = [c for c in self._started if not isinstance(c, Receiver)]
        for processor in reversed([c for c in started if isinstance(c, Processor)]):
            await _shutdown(processor)
        await asyncio.gather(*(s.stop(timeout) for s in self.senders))
        for queue in self.queues.values():
            await queue.flush()  # what a drain cut short stays on disk for the next start
        for exporter in reversed([c for c in started if not isinstance(c, Processor)]):
            await _shutdown(exporter)
        self._started.clear()
        self.senders.clear()
        await self.telemetry.close()

    async def run(self) -> None:
        """Start, serve until SIGTERM/SIGINT, then shut down."""
        loop = asyncio.get_running_loop()
        for sig in (os_signal.SIGTERM, os_signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        await self.start()
        _settle_gc()
        await self._stop.wait()
        log.info("stopping: draining exporter queues (up to %.0fs)", self.config.service.shutdown_timeout)
        await self.shutdown()

    def request_stop(self) -> None:
        self._stop.set()


@dataclass
class _Plan:
    """Where the results of one request go, and what to commit once they are there."""

    targets: list[tuple[BoundedQueue, Batch]] = field(default_factory=list)
    commits: list[Callable[[], None]] = field(default_factory=list)

    def queue(self, force: bool = False) -> list[tuple[BoundedQueue, asyncio.Future[None]]]:
        """Put the results in their queues; returns the writes of the persistent ones, for `written`."""
        writes = []
        for q, b in self.targets:
            write = q.put(b.data(), b.items, force=force)
            if write is not None:
                writes.append((q, write))
        return writes

    async def written(self, writes: list[tuple[BoundedQueue, asyncio.Future[None]]]) -> None:
        """Wait for the queued results to be on disk, then commit what the connectors derived. A queue that
        could not write its copy makes the request fail (503 / UNAVAILABLE, for the client to retry); the copies
        other queues wrote are kept, as they may be on their way out already."""
        failed = None
        for q, write in writes:
            try:
                await write
            except Exception as exc:
                failed = failed or f"exporter queue {q.name} cannot store the request: {exc}"
        if failed:
            log.error("%s", failed)
            raise BackpressureError(failed, retry_after=5.0, unavailable=True, reason="queue_write_failed")
        for commit in self.commits:
            try:
                commit()
            except Exception:
                log.exception("a connector failed to commit a request's counts")


@dataclass
class _Pipeline:
    name: str
    processors: list[Processor]
    queues: list[BoundedQueue]

    def has_room(self) -> bool:
        return all(q.has_room(0) for q in self.queues)


def _all_have_room(pipelines: list[_Pipeline]) -> bool:
    return all(p.has_room() for p in pipelines)


def _settle_gc() -> None:
    """Once started, the process owns the garbage collector: the ~120k objects made at start (the price book,
    patterns, modules) are frozen out of collections, and young objects are collected every 10,000 allocations
    instead of 700 (a request makes thousands that die by reference count). Under load the collections took
    4.8 % of the collector's CPU, 0.7 % after (perf samples in `gc_collect_main` and its visitors)."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


async def _shutdown(component: Component) -> None:
    try:
        await component.shutdown()
    except Exception:
        log.exception("error shutting down %s", getattr(component, "id", component))
