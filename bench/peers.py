"""llmtap's per-call overhead next to its peers', on the same OpenAI SDK version, side by side.

Each instrumentor gets its own virtualenv under `.venv-peers/bench-<name>` (the peers pin conflicting
versions: openai-v2 2.4b0 imports only with opentelemetry-util-genai 1.1b0 and openai < 3), including llmtap
itself, on the same `openai>=2,<3`. Each runs `bench.instrumentation --json` from this checkout in
`--processes` separate processes, taken in turns (one process per peer, then the next round, so a slow spell of
the machine hits all of them); the table shows, per scenario and content setting, the median over all
blocks of all processes of the extra CPU µs per call, and the spread of the per-process medians.

`--instructions` runs each process under Valgrind's callgrind instead (about 50 times slower: use few calls)
and shows the extra instructions per call: this machine's CPU time varies by more between runs than some
instrumentors differ (async calls), an instruction count does not.

Run: `.venv/bin/python -m bench.peers [--processes N] [--calls N] [--blocks N] [--only NAME ...]
[--scenario 'async chat' ...] [--instructions]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.instrumentation import CALLGRIND_OUT

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venv-peers"
COMMON = ["openai>=2,<3", "anthropic>=0.60,<1", "aiohttp>=3.9", "wrapt>=1.16"]
PEERS: dict[str, list[str]] = {
    # llmtap from this checkout (on PYTHONPATH), with the OpenTelemetry packages it needs
    "llmtap": ["opentelemetry-sdk>=1.39", "opentelemetry-instrumentation>=0.60b0",
               "opentelemetry-semantic-conventions>=0.60b0"],
    "openai-v2": ["opentelemetry-instrumentation-openai-v2==2.4b0", "opentelemetry-util-genai==1.1b0",
                  "opentelemetry-sdk"],
    "genai-openai": ["opentelemetry-instrumentation-genai-openai==1.3b0", "opentelemetry-sdk"],
    "genai-anthropic": ["opentelemetry-instrumentation-genai-anthropic==1.3b0", "opentelemetry-sdk"],
    "traceloop": ["opentelemetry-instrumentation-openai==0.62.4", "opentelemetry-instrumentation-anthropic==0.62.4",
                  "opentelemetry-sdk"],
}
SDKS = {"openai": ["llmtap", "openai-v2", "genai-openai", "traceloop"],
        "anthropic": ["llmtap", "genai-anthropic", "traceloop"]}


def venv(name: str) -> Path:
    path = VENVS / f"bench-{name}"
    python = path / "bin" / "python"
    stamp = path / ".installed"
    wanted = " ".join(COMMON + PEERS[name])
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *COMMON, *PEERS[name]], check=True)
        stamp.write_text(wanted)
    return python


def run(sdk: str, name: str, calls: int, blocks: int, scenarios: list[str],
        instructions: bool = False) -> list[dict[str, Any]]:
    """One process of `bench.instrumentation` for one instrumentor: its rows, one per scenario and content."""
    command = [str(venv(name)), "-m", "bench.instrumentation", "--json", "--sdk", sdk, "--instrumentor", name,
               "--calls", str(calls), "--blocks", str(blocks),
               *(a for scenario in scenarios for a in ("--scenario", scenario))]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        if instructions:
            out_file = f"{tmp}/callgrind.out"
            # the same hash seed in every run: dict and set layouts, and so the instructions, repeat
            env.update({CALLGRIND_OUT: out_file, "PYTHONHASHSEED": "0"})
            command = ["valgrind", "--tool=callgrind", "--dump-before=getloadavg", f"--callgrind-out-file={out_file}",
                       *command]
        out = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--sdk", nargs="*", default=list(SDKS), choices=list(SDKS))
    parser.add_argument("--only", nargs="*", default=list(PEERS), help="instrumentors to measure")
    parser.add_argument("--scenario", action="append", default=[], help="only this scenario (repeatable)")
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind")
    args = parser.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    for sdk in args.sdk:
        names = [name for name in SDKS[sdk] if name in args.only]
        results: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = {name: {} for name in names}
        for process in range(args.processes):  # round robin: a slow spell of the machine hits every peer
            for name in names:
                print(f"measuring {name} on {sdk}, process {process + 1}/{args.processes} ...", file=sys.stderr,
                      flush=True)
                for row in run(sdk, name, args.calls, args.blocks, args.scenario, args.instructions):
                    results[name].setdefault((row["scenario"], row["content"]), []).append(row)
        table(sdk, results, "instruction_delta" if args.instructions else "cpu_delta")
    if args.instructions:
        print("extra thousand instructions per call over the plain SDK (callgrind): median of all blocks (range of "
              "the per-process medians)")
    else:
        print("extra CPU µs per call over the plain SDK: median of all blocks (range of the per-process medians)")


def table(sdk: str, results: dict[str, dict[tuple[str, str], list[dict[str, Any]]]], measure: str) -> None:
    """`measure`: `cpu_delta` (µs) or `instruction_delta` (shown in thousands)."""
    names = list(results)
    scale, plain_key, plain_label = ((1e-3, "plain_instructions", "SDK k instr.") if measure == "instruction_delta"
                                     else (1.0, "plain_cpu", "SDK CPU µs"))
    print(f"\n{sdk}")
    print(f"{'scenario':<18} {'content':<7} {plain_label:>12} "
          + " ".join(f"{n:>22}" for n in names))
    for key in next(iter(results.values())):
        plain = statistics.median(float(r[plain_key]) for r in results[names[0]][key]) * scale
        cells = []
        for name in names:
            runs = results[name].get(key, [])
            deltas = [float(d) * scale for r in runs for d in r[measure]]
            per_process = [statistics.median(r[measure]) * scale for r in runs if r[measure]]
            spread = f" ({min(per_process):+.0f}..{max(per_process):+.0f})" if len(per_process) > 1 else ""
            cells.append(f"{statistics.median(deltas):>+8.0f}{spread}"
                         if deltas else "-")
        print(f"{key[0]:<18} {key[1]:<7} {plain:>12.0f} " + " ".join(f"{c:>22}" for c in cells), flush=True)
    for name in names:
        restored = sorted({m for rows in results[name].values() for r in rows for m in r.get("restored", [])})
        if restored:
            print(f"  {name}: uninstrument() left {', '.join(restored)} wrapped; the bench put them back between "
                  "blocks, so its plain blocks are plain")


if __name__ == "__main__":
    main()
