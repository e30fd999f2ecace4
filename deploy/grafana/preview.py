"""Draw the dashboard's own queries from a Prometheus into one HTML page of charts.

    python deploy/grafana/preview.py http://127.0.0.1:9090 preview.html [--minutes 10]
    chromium --headless --screenshot=preview.png --window-size=1300,2000 preview.html

For a picture of the dashboard where no Grafana runs (docs/operations.md's
screenshot was made this way): every panel of flask-api.json becomes a chart of
its targets over the last ``--minutes``, read with Prometheus's ``query_range``,
``$job`` as ``.+`` and ``$__rate_interval`` as ``1m``. The page is self-contained
(inline SVG, no script). To have something to draw, point a local Prometheus at a
gunicorn instance run with ``METRICS_ENABLED=true`` and send it some traffic.
Standard library only.
"""

import argparse
import html
import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parent / "flask-api.json"
TEMPLATE_VALUES = {"$__rate_interval": "1m", "$job": ".+"}
COLOURS = ["#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0"]
WIDTH, HEIGHT, PAD = 600, 170, 38


def query_range(prometheus, expression, start, end, step):
    query = urllib.parse.urlencode({"query": expression, "start": start, "end": end, "step": step})
    url = f"{prometheus}/api/v1/query_range?{query}"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 -- an http(s) URL given
        return json.load(response)["data"]["result"]


def legend(template, labels):
    text = template or "{{__name__}}"
    for name, value in labels.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def chart(title, series, start, end):
    """An SVG line chart of ``series`` ([(legend, [(t, value), ...]), ...])."""
    values = [v for _, points in series for _, v in points]
    top = max(values, default=1) or 1
    lines, keys = [], []
    for index, (name, points) in enumerate(series[: len(COLOURS)]):
        colour = COLOURS[index]
        coordinates = " ".join(
            f"{PAD + (t - start) / (end - start) * (WIDTH - PAD - 8):.1f},"
            f"{HEIGHT - 22 - v / top * (HEIGHT - 44):.1f}"
            for t, v in points
        )
        lines.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{coordinates}"/>'
        )
        keys.append(f'<span style="color:{colour}">&#9632;</span> {html.escape(name)}')
    axis = (
        f'<text x="2" y="26" class="tick">{top:.3g}</text>'
        f'<text x="2" y="{HEIGHT - 22}" class="tick">0</text>'
        f'<line x1="{PAD}" y1="{HEIGHT - 22}" x2="{WIDTH - 8}" y2="{HEIGHT - 22}" class="axis"/>'
    )
    empty = (
        "" if series else f'<text x="{WIDTH / 2 - 30}" y="{HEIGHT / 2}" class="tick">No data</text>'
    )
    return (
        f'<div class="panel"><h3>{html.escape(title)}</h3>'
        f'<svg width="{WIDTH}" height="{HEIGHT}">{axis}{"".join(lines)}{empty}</svg>'
        f'<div class="keys">{" &nbsp; ".join(keys[:6])}</div></div>'
    )


def page(prometheus, minutes):
    end = time.time()
    start = end - minutes * 60
    step = max(5, minutes * 60 // 120)
    parts = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        if panel["type"] == "row":
            parts.append(f"<h2>{html.escape(panel['title'])}</h2>")
            continue
        series = []
        for target in panel["targets"]:
            expression = target["expr"]
            for variable, value in TEMPLATE_VALUES.items():
                expression = expression.replace(variable, value)
            for result in query_range(prometheus, expression, start, end, step):
                points = [
                    (float(t), float(v)) for t, v in result["values"] if v not in ("NaN", "+Inf")
                ]
                series.append((legend(target.get("legendFormat"), result["metric"]), points))
        parts.append(chart(panel["title"], series, start, end))
    style = (
        "body{background:#111217;color:#ccccdc;font:13px sans-serif;margin:12px}"
        "h1{font-size:18px}h2{font-size:15px;clear:both;padding-top:6px;margin:8px 0}"
        ".panel{float:left;height:222px;background:#181b1f;border:1px solid #2c3235;"
        "margin:4px;padding:6px}"
        "h3{font-size:13px;margin:0 0 4px}.tick{fill:#8e8e8e;font-size:10px}"
        ".axis{stroke:#2c3235}.keys{font-size:11px;max-width:600px;height:28px;overflow:hidden}"
    )
    return (
        f"<!doctype html><meta charset=utf-8><title>Flask API</title><style>{style}</style>"
        f"<h1>Flask API: the last {minutes} minutes</h1>{''.join(parts)}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prometheus", help="Prometheus's URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("output", type=Path, help="the HTML file to write")
    parser.add_argument("--minutes", type=int, default=10)
    arguments = parser.parse_args()
    arguments.output.write_text(page(arguments.prometheus.rstrip("/"), arguments.minutes))


if __name__ == "__main__":
    main()
