"""`opentelemetry-instrument python app.py` with llmtap installed: an app calling the real OpenAI, Anthropic and
Google GenAI SDKs lands
spans and metrics in a running collector, with only the endpoint (a standard OTEL_* variable) set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from llmtap.collector import attributes
from llmtap.collector.signals import Signal
from llmtap.instrumentation.distro import DEFAULTS
from tests.conftest import Running, wait_for
from tests.providers.server import ProviderServer

APP = """
import anthropic, openai, os
from google import genai
url = os.environ["PROVIDER_URL"]
client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
for _ in client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                        stream=True):
    pass
claude = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
with claude.messages.stream(model="claude-haiku-4-5", max_tokens=10,
                            messages=[{"role": "user", "content": "hi"}]) as stream:
    stream.until_done()
gemini = genai.Client(api_key="k", http_options={"base_url": url})
gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
print("app done")
"""


def test_launcher_sends_spans_and_metrics_to_the_collector(tmp_path: Path, collector: Running,
                                                           provider: ProviderServer) -> None:
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(APP))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(PROVIDER_URL=provider.url, OTEL_EXPORTER_OTLP_ENDPOINT=collector.http,
               OTEL_SERVICE_NAME="launcher-app", OTEL_METRIC_EXPORT_INTERVAL="200")
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    done = subprocess.run([str(launcher), sys.executable, str(app)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "app done" in done.stdout
    memory = collector.exporter()

    def spans() -> dict[str, dict[str, attributes.Value]]:
        found = {}
        for request in memory.messages(Signal.TRACES):
            for resource, span in attributes.spans(request):
                assert attributes.pick(resource.attributes, {"service.name"}) == {"service.name": "launcher-app"}
                found[span.name] = {kv.key: attributes.value_of(kv.value) for kv in span.attributes}
        return found

    expected = {"chat gpt-4o", "chat gpt-4o-mini", "chat claude-haiku-4-5", "chat gemini-2.5-flash"}
    wait_for(lambda: expected <= set(spans()) and memory.items(Signal.METRICS) > 0)
    got = spans()
    assert got["chat gpt-4o"]["gen_ai.usage.input_tokens"] == 31
    assert got["chat gpt-4o-mini"]["gen_ai.response.finish_reasons"] is not None
    assert got["chat claude-haiku-4-5"]["gen_ai.usage.cache_read.input_tokens"] == 100
    assert got["chat gemini-2.5-flash"]["gen_ai.provider.name"] == "gcp.gemini"
    metric_names = {m.name for request in memory.messages(Signal.METRICS) for rm in request.resource_metrics
                    for sm in rm.scope_metrics for m in sm.metrics}
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= metric_names


def test_distro_defaults_yield_to_the_users_settings() -> None:
    names = sorted(DEFAULTS)
    code = ("import json, os; from llmtap.instrumentation.distro import LlmtapDistro; LlmtapDistro().configure(); "
            f"print(json.dumps({{k: os.environ[k] for k in {names!r}}}))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {**DEFAULTS, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
