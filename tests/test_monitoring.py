"""The Grafana dashboard and the Prometheus alert rules in deploy/, checked.

- Every PromQL expression of deploy/grafana/flask-api.json parses: promtool has no
  dashboard check, so they are written into a recording-rules file (Grafana's
  template variables replaced by values) and ``promtool check rules`` reads it.
- The dashboard and deploy/prometheus/alerts.yml name only metrics that
  ``GET /metrics`` really exposes (scraped from the app with metrics on).
- ``promtool check rules`` and ``promtool test rules`` pass on the alerts and
  their unit tests (deploy/prometheus/alerts_test.yml).
"""

import json
import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import skip_or_fail
from tests.servers import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "flask-api.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
# What Grafana puts in place of its variables, for promtool.
TEMPLATE_VALUES = {"$__rate_interval": "5m", "$job": "flask-api"}
# Metrics not of the service but of Prometheus itself.
PROMETHEUS_OWN = {"up"}
# The mail outbox's gauges (another change adds them): allowed to be missing
# only while no code of the service names them.
MAIL_GAUGES = {"mail_outbox_pending", "mail_outbox_oldest_pending_seconds"}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "and", "or", "unless", "inf", "nan",
}  # fmt: skip


def promtool(*args):
    binary = shutil.which("promtool")
    if binary is None:
        skip_or_fail("promtool is not installed (apt-get install prometheus)")
    result = subprocess.run(  # noqa: S603 -- the installed promtool on the project's files
        [binary, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def dashboard_expressions():
    """``{(panel title, refId): PromQL}`` of every panel target, variables replaced."""
    found = {}
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            expression = target["expr"]
            for variable, value in TEMPLATE_VALUES.items():
                expression = expression.replace(variable, value)
            found[(panel["title"], target["refId"])] = expression
    return found


def alert_expressions():
    rules = yaml.safe_load(ALERTS.read_text())
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


def metric_names(expression):
    """The metric names an expression selects: what is left once strings, label
    matchers, ranges, grouping label lists, numbers, function names and keywords
    are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"(?<![A-Za-z0-9_:])\d[0-9.]*[a-z]*", " ", text)  # numbers, durations (5m)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match.group().lower() in PROMQL_WORDS:
            continue
        names.add(match.group())
    return names


@pytest.fixture
def exposed(make_app):
    """Every sample name /metrics can show, read from its HELP/TYPE lines (a
    labelled metric with no sample yet is listed too)."""
    client = make_app(METRICS_ENABLED=True).test_client()
    client.get("/api/products")
    families = text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
    names = set()
    for family in families:
        suffixes = {
            "counter": ["_total"],
            "histogram": ["_bucket", "_sum", "_count"],
            "summary": ["_sum", "_count", ""],
        }.get(family.type, [""])
        names.update(family.name + suffix for suffix in suffixes)
    return names


def service_code_names(name):
    return any(
        name in path.read_text(encoding="utf-8")
        for path in ROOT.glob("**/*.py")
        if not path.is_relative_to(ROOT / "tests")
        and not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
        and not path.is_relative_to(ROOT / "clients")
    )


def test_every_dashboard_expression_parses(tmp_path):
    expressions = dashboard_expressions()
    rules = {
        "groups": [
            {
                "name": "flask-api-dashboard",
                "rules": [
                    {"record": f"dashboard:panel_{number}:{ref_id.lower()}", "expr": expression}
                    for number, ((_, ref_id), expression) in enumerate(
                        sorted(expressions.items()), start=1
                    )
                ],
            }
        ]
    }
    generated = tmp_path / "dashboard-rules.yml"
    generated.write_text(yaml.safe_dump(rules, sort_keys=False))

    assert f"SUCCESS: {len(expressions)} rules found" in promtool("check", "rules", generated)


def test_a_broken_expression_fails_the_check(tmp_path):
    broken = tmp_path / "broken-rules.yml"
    broken.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "g", "rules": [{"record": "a:b", "expr": "sum(rate(x[5m])"}]}]}
        )
    )
    with pytest.raises(AssertionError, match="unclosed left parenthesis"):
        promtool("check", "rules", broken)


def test_the_dashboard_and_alerts_name_only_metrics_the_service_exposes(exposed):
    named = {}
    for where, expression in [*dashboard_expressions().items(), *alert_expressions().items()]:
        for name in metric_names(expression):
            named.setdefault(name, []).append(where)
    allowed_missing = PROMETHEUS_OWN | {
        gauge for gauge in MAIL_GAUGES if not service_code_names(gauge)
    }

    unknown = {name: where for name, where in named.items() if name not in exposed}
    assert set(unknown) <= allowed_missing, unknown
    # The checker reads what it should: the dashboard covers every family of the service.
    assert {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_count",
        "http_rate_limited_requests_total",
        "authentication_failures_total",
        "idempotent_replays_total",
        "db_pool_connections_in_use",
        "db_pool_overflow_connections",
        "app_info",
        *MAIL_GAUGES,
    } <= set(named)


def test_metric_names_are_read_from_selectors_only():
    expression = (
        "histogram_quantile(0.95, sum by (route, le) (rate(http_request_duration_seconds_bucket"
        '{job=~"flask-api", route!="/metrics"}[5m]))) / on (job) group_left up offset 5m'
    )
    assert metric_names(expression) == {"http_request_duration_seconds_bucket", "up"}


def test_the_alert_rules_check_and_their_unit_tests_pass():
    assert "SUCCESS: 7 rules found" in promtool("check", "rules", ALERTS)
    assert "SUCCESS" in promtool("test", "rules", ALERT_TESTS)


def test_the_dashboard_is_importable():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "flask-api"
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            # Every query goes to the data source picked at import, none to a fixed uid.
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
