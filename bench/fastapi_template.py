"""The FastAPI full-stack template's backend, the second reference of ``bench/compare.py``.

``prepare(snapshot, database_url, workers)`` takes a snapshot of the public
repository ``github:fastapi/full-stack-fastapi-template`` (its git directory,
or a checkout), never committed here, and makes it runnable in
``bench/results/fastapi/``:

- the commit's files (``git archive HEAD``; ``FA_REF`` picks another commit);
- a virtual environment with exactly the versions its Docker image gets: the
  requirements ``uv export --frozen --no-dev --package app`` reads from its
  ``uv.lock`` (uv itself comes from PyPI into a tools environment, only for
  that), installed with pip;
- its interpreter: Python 3.14 if one is found (the template requires it), else
  3.13 or the one running this script, with the two 3.14-only spellings
  rewritten to their older equivalents (as ``../shared/bench/vs_fastapi.sh``
  does): ``except A, B:`` becomes ``except (A, B):`` in ``app/api/deps.py``, and
  the ``list[Item]`` forward reference in ``app/models.py`` becomes
  ``list["Item"]``. Nothing else changes;
- its database recreated (``DATABASE_URL``'s database with ``_fastapi`` added
  to the name), ``scripts/prestart.sh`` (migrations, the first superuser), a
  benchmark user and ``ITEMS`` items of that user;
- an empty page where its Dockerfile copies the built frontend (never asked for).

``Template(...)`` then runs it as its Docker image does, ``fastapi run --workers
N``, on a free loopback port, with the ``cpu_seconds`` and ``stop`` of
``compare.Server``.
"""

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
from pathlib import Path

import compare

WORK = compare.RESULTS / "fastapi"
UV_VERSION = "0.9.26"  # the uv of the template's Dockerfile; only reads uv.lock
ITEMS = 1000  # the template's list counts and pages the user's items
EMAIL, PASSWORD = "bench@example.com", "bench-template-pass"
# The two spellings only Python 3.14 accepts, and their older equivalents.
REWRITES = {
    "backend/app/api/deps.py": (
        r"(?m)^(\s*)except InvalidTokenError, ValidationError:$",
        r"\1except (InvalidTokenError, ValidationError):",
    ),
    "backend/app/models.py": (
        r"(?m)^(\s*)items: list\[Item\] = Relationship\(",
        r'\1items: list["Item"] = Relationship(',
    ),
}


def _run(argv, log, **kwargs):
    with open(log, "a", encoding="utf-8") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False, **kwargs)
    if done.returncode:
        sys.exit(f"{' '.join(map(str, argv[:3]))} ... failed; see {log}")


def _python():
    """Python 3.14 if there is one, else 3.13, else this interpreter (pyenv's too)."""
    pyenv = Path.home() / ".pyenv" / "versions"
    for version in ("3.14", "3.13"):
        candidates = [shutil.which(f"python{version}")]
        candidates += sorted(str(path) for path in pyenv.glob(f"{version}*/bin/python3"))
        for candidate in filter(None, candidates):
            # A pyenv shim may exist and still fail: take the interpreter it really runs.
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.executable)"],
                capture_output=True,
                text=True,
                check=False,
            )
            if probe.returncode == 0:
                return probe.stdout.strip()
    return sys.executable


def _git(snapshot):
    """git's argv for the snapshot: a bare git directory or a checkout."""
    git = shutil.which("git") or sys.exit("bench/compare.py --fastapi needs git")
    where = "--git-dir" if (Path(snapshot) / "HEAD").is_file() else "-C"
    return [git, where, str(snapshot)]


def _checkout(snapshot, target, log):
    """The snapshot's commit as plain files in ``target``; returns its short id."""
    ref = os.environ.get("FA_REF", "HEAD")
    found = subprocess.run(
        [*_git(snapshot), "rev-parse", "--short", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode:
        sys.exit(f"{snapshot} is no git snapshot of the template: {found.stderr.strip()}")
    commit = found.stdout.strip()
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    with tempfile.TemporaryFile() as archive, open(log, "a", encoding="utf-8") as errors:
        subprocess.run([*_git(snapshot), "archive", commit], stdout=archive, stderr=errors,
                       check=True)  # fmt: skip
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(target, filter="data")
    return commit


def _environment(name, python, requirements, log):
    """A virtual environment for ``requirements``, made once per interpreter and list."""
    key = f"{name}-{Path(python).name}-{hash_of(requirements)}"
    path = WORK / "venvs" / key
    if not (path / ".ok").exists():
        shutil.rmtree(path, ignore_errors=True)
        _run([python, "-m", "venv", path], log)
        _run([path / "bin" / "pip", "install", "-q", "--disable-pip-version-check",
              "-r", requirements], log)  # fmt: skip
        (path / ".ok").touch()
    return path


def hash_of(path):
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def _requirements(source, log):
    """Exactly the versions the template's Docker image installs, from its uv.lock."""
    tools = WORK / "venvs" / f"uv-{UV_VERSION}"
    if not (tools / "bin" / "uv").exists():
        venv.create(tools, with_pip=True)
        _run([tools / "bin" / "pip", "install", "-q", "--disable-pip-version-check",
              f"uv=={UV_VERSION}"], log)  # fmt: skip
    out = WORK / "requirements.txt"
    _run([tools / "bin" / "uv", "export", "-q", "--frozen", "--no-dev", "--package", "app",
          "--no-hashes", "--no-emit-project", "--no-emit-workspace", "--no-header",
          "--no-annotate", "-o", out], log, cwd=source)  # fmt: skip
    return out


def _rewrite_for(python, source):
    """The 3.14-only spellings rewritten on an older interpreter; what was rewritten."""
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info >= (3, 14))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if version == "True":
        return "none"
    for name, (pattern, replacement) in REWRITES.items():
        path = source / name
        text, count = re.subn(pattern, replacement, path.read_text())
        if count != 1:
            sys.exit(f"{name}: the 3.14-only spelling was not found once ({count}); new template?")
        path.write_text(text)
    return "Python<3.14 spellings in " + ", ".join(REWRITES)


def _database_url(database_url):
    """The template's own database beside the service's (plain postgresql:// for it)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    return url.set(drivername="postgresql", database=f"{url.database}_fastapi")


def _recreate(url):
    from sqlalchemy import create_engine, text

    engine = create_engine(url.set(drivername="postgresql+psycopg", database="postgres"),
                           isolation_level="AUTOCOMMIT")  # fmt: skip
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        engine.dispose()


SEED = """
import sys
from sqlmodel import Session, func, select
from app import crud
from app.core.db import engine
from app.models import Item, ItemCreate, UserCreate

email, password, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Session(engine) as session:
    user = crud.get_user_by_email(session=session, email=email) or crud.create_user(
        session=session,
        user_create=UserCreate(email=email, password=password, full_name="Bench User"),
    )
    session.add_all(
        Item.model_validate(
            ItemCreate(title=f"Item {i}", description=f"Item {i}, made for the benchmark"),
            update={"owner_id": user.id},
        )
        for i in range(n)
    )
    session.commit()
"""


def prepare(snapshot, database_url):
    """Install and seed the template; returns (backend folder, env, description)."""
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "setup.log"
    log.write_text("")
    source = WORK / "template"
    commit = _checkout(snapshot, source, log)
    python = _python()
    patched = _rewrite_for(python, source)
    environment = _environment("fastapi", python, _requirements(source, log), log)
    frontend = source / "backend" / "app" / "frontend"
    frontend.mkdir(parents=True, exist_ok=True)
    (frontend / "index.html").write_text("<!doctype html><title>frontend not built</title>\n")
    url = _database_url(database_url)
    _recreate(url)
    import secrets

    # Its settings come from ../.env beside backend/: this one replaces the development one.
    (source / ".env").write_text(
        'PROJECT_NAME="Full Stack FastAPI Project"\n'
        f"SECRET_KEY={secrets.token_urlsafe(32)}\n"
        "FIRST_SUPERUSER=admin@example.com\n"
        f"FIRST_SUPERUSER_PASSWORD={secrets.token_urlsafe(16)}\n"
        f"DATABASE_URL={url.render_as_string(hide_password=False)}\n"
        "EMAILS_FROM_EMAIL=info@example.com\n"
    )
    backend = source / "backend"
    env = {
        "PATH": f"{environment / 'bin'}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", str(WORK)),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(backend),
    }
    _run(["bash", "scripts/prestart.sh"], log, cwd=backend, env=env)
    _run([environment / "bin" / "python", "-c", SEED, EMAIL, PASSWORD, str(ITEMS)], log,
         cwd=backend, env=env)  # fmt: skip
    version = subprocess.run(
        [environment / "bin" / "python", "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    description = (
        f"full-stack-fastapi-template @ {commit}, Python {version}, {ITEMS} items,"
        f" patches: {patched}"
    )
    return backend, env, description


class Template(compare.Server):
    """``fastapi run --workers N`` (the template's Docker command) on a free loopback port."""

    def __init__(self, backend, env, workers):
        self.name = "fastapi"
        self.port = compare.free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in stop()
        self.process = subprocess.Popen(
            [env["PATH"].split(":")[0] + "/fastapi", "run", "--workers", str(workers),
             "--host", compare.HOST, "--port", str(self.port)],
            cwd=backend, env=env, stdout=subprocess.DEVNULL, stderr=self.log,
        )  # fmt: skip

    def worker_pids(self):
        """The supervisor's children (its workers), and theirs."""
        pids, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            pids += [int(child) for child in children]
            todo += [int(child) for child in children]
        return pids


def login(port):
    """A bearer token of the benchmark user (OAuth2 password form)."""
    import urllib.parse
    import urllib.request

    data = urllib.parse.urlencode({"username": EMAIL, "password": PASSWORD}).encode()
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(
                f"http://{compare.HOST}:{port}/api/v1/login/access-token", data=data, timeout=30
            ) as response:
                import json

                return f"Bearer {json.loads(response.read())['access_token']}"
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
