"""grafana/alerts: the rules pass `promtool check rules`, and every alert fires and stays quiet where its unit
tests (grafana/alerts/tests) say, with promtool from the Debian Prometheus package."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ALERTS = Path(__file__).parent.parent / "grafana" / "alerts"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    return subprocess.run([promtool, *args], cwd=ALERTS, capture_output=True, text=True, timeout=600)


def test_rules_are_valid() -> None:
    result = _promtool("check", "rules", "llmtap-rules.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_unit_tests_that_pass() -> None:
    rules = (ALERTS / "llmtap-rules.yaml").read_text()
    tests = (ALERTS / "tests" / "llmtap-rules-test.yaml").read_text()
    alerts = {line.split("alert:")[1].strip() for line in rules.splitlines() if line.strip().startswith("- alert:")}
    for alert in alerts:
        cases = len(re.findall(rf"alertname: {alert}\b", tests))
        assert cases >= 2, f"{alert}: needs a case where it fires and one where it does not"
    result = _promtool("test", "rules", "tests/llmtap-rules-test.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_example_is_valid() -> None:
    amtool = shutil.which("amtool") or "/usr/bin/amtool"
    result = subprocess.run([amtool, "check-config", "alertmanager.yml"], cwd=ALERTS, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    routed = subprocess.run([amtool, "config", "routes", "test", "--config.file=alertmanager.yml",
                             "alertname=LLMTenantDailyBudgetExceeded", "llmtap_tenant_id=acme"],
                            cwd=ALERTS, capture_output=True, text=True, timeout=60)
    assert routed.stdout.strip() == "finops", routed.stdout + routed.stderr
