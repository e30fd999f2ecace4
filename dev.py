#!/usr/bin/env python3
"""Set up and run the service or its tests on a fresh machine with only Python 3.11+.

    python3 dev.py serve [flask run options]   # venv, dependencies, migrations, demo data, run
    python3 dev.py test [pytest options]       # venv, dev dependencies, the whole test suite

The virtual environment lives in ``.venv``; dependencies are installed again only
when a requirements file changes.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
REQUIREMENTS = {"serve": "requirements.txt", "test": "requirements-dev.txt"}


def _requirements_digest(name):
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("requirements*.txt")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{name}:{digest.hexdigest()}"


def ensure_environment(command):
    """Create .venv and install the requirements the command needs, if not done yet."""
    if sys.version_info < (3, 11):  # noqa: UP036 -- a clear message for older Pythons
        sys.exit("Python 3.11 or newer is required.")
    python = BIN / "python"
    if not python.exists():
        print("Creating the virtual environment in .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    requirements = REQUIREMENTS[command]
    stamp = VENV / f".installed-{command}"
    wanted = _requirements_digest(requirements)
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"Installing {requirements} ...", flush=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(ROOT / requirements)],
            check=True,
        )
        stamp.write_text(wanted)
    return python


def run(argv, **kwargs):
    return subprocess.run(argv, cwd=ROOT, check=False, **kwargs).returncode


def serve(python, extra):
    flask = [str(python), "-m", "flask", "--app", "app"]
    for step in (["db", "upgrade"], ["seed-demo"]):
        code = run(flask + step)
        if code:
            return code
    return run([*flask, "run", *extra])


def test(python, extra):
    return run([str(python), "-m", "pytest", *extra])


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in REQUIREMENTS:
        print(__doc__)
        return 2
    command, extra = sys.argv[1], sys.argv[2:]
    python = ensure_environment(command)
    return serve(python, extra) if command == "serve" else test(python, extra)


if __name__ == "__main__":
    sys.exit(main())
