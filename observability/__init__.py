"""What the service tells its operators: logs, metrics, traces, error reports.

- ``request_log``: the JSON log formatter and the request's log line;
- ``metrics``: Prometheus, ``GET /metrics`` and what each request records;
- ``tracing``: OpenTelemetry (loaded only with ``OTEL_EXPORTER_OTLP_ENDPOINT``);
- ``error_reports``: Sentry (loaded only with ``SENTRY_DSN``).
"""
