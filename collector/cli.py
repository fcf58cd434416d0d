"""The `llmtap` command line: serve, validate, stats, demo, version."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from llmtap import __version__
from llmtap.collector.config import ConfigError, parse_duration


def _serve(args: argparse.Namespace) -> int:
    from llmtap.collector.service import Service, load_config

    config = load_config(args.config)
    print(f"llmtap {__version__}: config {args.config or '(embedded default)'}; data in {config.data_dir}",
          file=sys.stderr)
    try:
        asyncio.run(Service(config).run())
    except OSError as exc:
        print(f"llmtap: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _validate(args: argparse.Namespace) -> int:
    from llmtap.collector.service import load_config

    config = load_config(args.file)
    for p in config.pipelines:
        procs = " -> ".join(p.processors) or "(no processors)"
        print(f"{p.name}: {', '.join(p.receivers)} -> {procs} -> {', '.join(p.exporters)}")
    print(f"{args.file}: valid")
    return 0


def _stats(args: argparse.Namespace) -> int:
    import clickhouse_connect

    from llmtap.collector import stats

    host, _, port = args.endpoint.rpartition(":")
    try:
        client = clickhouse_connect.get_client(host=host or "127.0.0.1", port=int(port), connect_timeout=5)
        result = stats.collect(client, int(parse_duration(args.since)))
    except Exception as exc:
        print(f"llmtap stats: cannot query {args.endpoint}: {exc}\n(is `llmtap serve` running?)", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, default=str, indent=2))
    else:
        print(f"GenAI calls over the last {args.since}\n")
        print(stats.render(result))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from llmtap.collector import demo

    print(f"sending {args.calls} GenAI calls to {args.endpoint} over OTLP/{args.protocol} ...", file=sys.stderr)
    sent = demo.run(args.endpoint, args.calls, args.protocol)
    print(f"sent {sent} spans; see them with `llmtap stats`", file=sys.stderr)
    return 0


def _version(args: argparse.Namespace) -> int:
    print(f"llmtap {__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmtap", description="OpenTelemetry-native observability for LLM apps")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the collector (embedded default config when no --config)")
    p.add_argument("--config", help="YAML config file")
    p.set_defaults(func=_serve)
    p = sub.add_parser("validate", help="check a config file without starting anything")
    p.add_argument("file")
    p.set_defaults(func=_validate)
    p = sub.add_parser("stats", help="calls, tokens, cost and latency per model and service")
    p.add_argument("--since", default="1h", help="window, e.g. 15m, 1h, 24h (default 1h)")
    p.add_argument("--endpoint", default="127.0.0.1:8123", help="the collector's read endpoint")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_stats)
    p = sub.add_parser("demo", help="send realistic GenAI telemetry to a collector")
    p.add_argument("--endpoint", default=None, help="OTLP endpoint (default http://127.0.0.1:4318, "
                                                    "or 127.0.0.1:4317 with --protocol grpc)")
    p.add_argument("--protocol", choices=["http", "grpc"], default="http")
    p.add_argument("--calls", type=int, default=500)
    p.set_defaults(func=_demo)
    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if getattr(args, "endpoint", "") is None:
        args.endpoint = "127.0.0.1:4317" if args.protocol == "grpc" else "http://127.0.0.1:4318"
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"llmtap: invalid config:\n{exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
