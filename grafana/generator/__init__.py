"""Generates llmtap's Grafana dashboards (grafana/dashboards/*.json) with grafana-foundation-sdk.

    python -m grafana.generator           # write the JSON
    python -m grafana.generator --check   # fail if the committed JSON differs from what the code generates
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from . import calls, collector, cost, errors, models, performance, users

DASHBOARDS: dict[str, Callable[[], model.Dashboard]] = {
    "llmtap-performance": performance.build,
    "llmtap-cost": cost.build,
    "llmtap-models": models.build,
    "llmtap-users": users.build,
    "llmtap-errors": errors.build,
    "llmtap-collector": collector.build,
    "llmtap-calls": calls.build,
}
OUTPUT = Path(__file__).resolve().parent.parent / "dashboards"


def render(build: Callable[[], model.Dashboard]) -> str:
    board = build()
    for number, panel in enumerate(board.panels or [], start=1):
        panel.id_val = number  # stable ids: Grafana links to a panel by them (viewPanel=N)
    return json.dumps(board, cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {f"{name}.json": render(build) for name, build in DASHBOARDS.items()}


def stale(directory: Path = OUTPUT) -> list[str]:
    """The dashboard files that are missing, differ from the code, or are no longer generated."""
    wanted = generate()
    present = {p.name for p in directory.glob("*.json")}
    changed = [name for name, text in wanted.items()
               if not (directory / name).exists() or (directory / name).read_text() != text]
    return sorted(changed + sorted(present - set(wanted)))


def write(directory: Path = OUTPUT) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    wanted = generate()
    for name, text in wanted.items():
        (directory / name).write_text(text)
    for path in directory.glob("*.json"):
        if path.name not in wanted:
            path.unlink()
