"""The compose stack's demo app: an ordinary OpenAI SDK program, run under `opentelemetry-instrument`, so its
LLM calls reach llmtap with no telemetry code of its own. It serves its own OpenAI-compatible endpoint
(canned answers, a few failures) so the stack needs no API key."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai

import llmtap

MODELS = ["gpt-4o", "gpt-4o-mini"]
QUESTIONS = ["Summarize today's incidents.", "Which invoices are overdue?",
             "Draft a reply to jane.doe@example.com about her refund."]


class FakeOpenAI(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(random.uniform(0.2, 1.5))
        if random.random() < 0.05:
            self._send(429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit"}})
            return
        prompt_tokens, completion_tokens = random.randint(20, 900), random.randint(10, 300)
        self._send(200, {
            "id": f"chatcmpl-{random.getrandbits(48):x}", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"] + "-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Here is what I found."}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}})

    def _send(self, status: int, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="demo", max_retries=0)
    while True:
        who = llmtap.attributes(user_id=f"user-{random.randint(1, 20)}", session_id=f"s-{random.randint(1, 50)}",
                                tenant_id=random.choice(["acme", "globex"]))
        with who, contextlib.suppress(openai.APIError):  # a failure is recorded on the span as error.type
            client.chat.completions.create(model=random.choice(MODELS),
                                           messages=[{"role": "user", "content": random.choice(QUESTIONS)}])
        time.sleep(random.uniform(0.5, 2.0))


if __name__ == "__main__":
    main()
