"""The real Prometheus (Debian's `prometheus`, installed by `make test`), started on loopback for a test with
the remote-write receiver on, and asked through its HTTP query API."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.conftest import free_port, wait_for


@dataclass
class Prometheus:
    proc: subprocess.Popen[bytes]
    url: str

    @property
    def remote_write(self) -> str:
        return f"{self.url}/api/v1/write"

    def query(self, promql: str) -> list[dict[str, Any]]:
        r = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        r.raise_for_status()
        result: list[dict[str, Any]] = r.json()["data"]["result"]
        return result

    def value(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def start_prometheus(tmp_path: Path, scrape: str | None = None, port: int | None = None,
                     rules: Path | None = None) -> Prometheus:
    """`port` reuses one (a restart: same port, same storage); `rules` is a rule file to load."""
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    tmp_path.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = tmp_path / "prometheus.yml"
    scrape_configs = ""
    if scrape:
        scrape_configs = f"""scrape_configs:
  - job_name: llmtap-pull
    scrape_interval: 1s
    static_configs: [{{targets: ["{scrape}"]}}]
"""
    rule_files = f"rule_files: [{rules}]\n" if rules else ""
    config.write_text(f"global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n{rule_files}{scrape_configs}")
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(ready, timeout=60)
    except AssertionError:
        proc.kill()
        raise AssertionError((tmp_path / "prometheus.log").read_text()[-2000:]) from None
    time.sleep(0.2)
    return Prometheus(proc, url)
