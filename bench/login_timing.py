"""Login timing: an unknown email must cost what a wrong password costs.

Runs the app in-process (test client) on a temporary SQLite database with the
production password hash (werkzeug's default scrypt), and times many failed
logins of each kind, interleaved so that machine noise hits both alike.

    .venv/bin/python -m bench.login_timing [--rounds 40]     # from the project root
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import flask_migrate

os.environ["FLASK_SKIP_DOTENV"] = "1"

from app import create_app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    database = Path(tempfile.mkdtemp(prefix="bench-")) / "login.db"
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{database}",
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "RATELIMIT_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
    client = app.test_client()
    client.post(
        "/api/auth/register",
        json={"name": "Bench", "email": "bench@example.com", "password": "the real password"},
    )
    attempts = {
        "wrong password": {"email": "bench@example.com", "password": "not the password"},
        "unknown email": {"email": "nobody@example.com", "password": "not the password"},
        "right password": {"email": "bench@example.com", "password": "the real password"},
    }
    timings = {name: [] for name in attempts}
    for _ in range(args.rounds):
        for name, body in attempts.items():
            started = time.perf_counter()
            client.post("/api/auth/login", json=body)
            timings[name].append((time.perf_counter() - started) * 1000)
    for name, values in timings.items():
        print(
            f"{name:<15} median {statistics.median(values):6.1f} ms   "
            f"p10 {statistics.quantiles(values, n=10)[0]:6.1f} ms   "
            f"p90 {statistics.quantiles(values, n=10)[-1]:6.1f} ms"
        )


if __name__ == "__main__":
    main()
