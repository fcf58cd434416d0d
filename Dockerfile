# llmtap collector image: `docker build -t llmtap .` (deploy/docker-compose.yml builds it too).
FROM python:3.11-slim AS build
# gcc and PCRE2's headers for llmtap's C modules; the runtime image gets the built wheel (and libpcre2-8-0)
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libpcre2-dev \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY llmtap llmtap
COPY collector collector
COPY exporters exporters
COPY processors processors
COPY instrumentation instrumentation
COPY semconv semconv
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpcre2-8-0 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /var/lib/llmtap --create-home llmtap
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY deploy/stack.yaml /etc/llmtap/config.yaml
USER 10001
ENV LLMTAP_DATA_DIR=/var/lib/llmtap
VOLUME /var/lib/llmtap
# OTLP gRPC, OTLP HTTP, ClickHouse read endpoint (embedded store), self-telemetry (/metrics /healthz /readyz)
EXPOSE 4317 4318 8123 8888
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8888/readyz', timeout=2)"]
ENTRYPOINT ["llmtap"]
CMD ["serve", "--config", "/etc/llmtap/config.yaml"]
