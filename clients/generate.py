"""Regenerate the typed clients from the app's own OpenAPI document, or check them.

    python3 dev.py clients            # write clients/openapi.json and both clients
    python3 dev.py clients --check    # regenerate into a temporary folder; fail on any difference

Run by ``dev.py clients`` with the project's virtual environment (it imports the
app). The document is the one ``GET /api/openapi.json`` serves, taken from the
app through Flask's test client, so no server and no database are needed. The
app is built with fixed settings and without ``.env``, so a developer's own
settings cannot change what is generated.

- TypeScript: ``openapi-typescript`` from ``clients/typescript/node_modules``
  (``npm ci`` there, versions pinned by package-lock.json) writes
  ``clients/typescript/src/schema.d.ts``.
- Python: ``openapi-python-client`` from ``.venv-clients`` (created here and
  installed from ``clients/python/requirements-generate.txt``, every package
  pinned) writes the package ``clients/python/flask_api_client``.

Both generators are deterministic for a given document and version, so
``--check`` is an exact comparison.
"""

import filecmp
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / "clients"
DOCUMENT = CLIENTS / "openapi.json"
TYPESCRIPT = CLIENTS / "typescript"
TYPES = TYPESCRIPT / "src" / "schema.d.ts"
PYTHON = CLIENTS / "python"
PACKAGE = "flask_api_client"
GENERATOR_CONFIG = PYTHON / "generator-config.yml"
GENERATOR_REQUIREMENTS = PYTHON / "requirements-generate.txt"
GENERATOR_VENV = ROOT / ".venv-clients"
# The settings the document is built under. Only settings that change what the
# document says matter (none do today); the rest keep the build free of side
# effects: an in-memory database, a fixed key so none is written under instance/,
# and no mail sender thread (its table is never made in that database).
DOCUMENT_SETTINGS = {
    "APP_ENV": "development",
    "DATABASE_URL": "sqlite://",
    "SECRET_KEY": "clients-generate-" + "k" * 32,
    "METRICS_ENABLED": "false",
    "RATELIMIT_ENABLED": "false",
    "LOG_LEVEL": "WARNING",
    "MAIL_SENDER": "command",
}


def openapi_document():
    """The document as the app serves it, as text (2-space JSON, key order kept)."""
    os.environ["FLASK_SKIP_DOTENV"] = "1"
    sys.path.insert(0, str(ROOT))
    from app import create_app

    app = create_app(DOCUMENT_SETTINGS)
    response = app.test_client().get("/api/openapi.json")
    if response.status_code != 200:
        sys.exit(f"GET /api/openapi.json answered {response.status_code}")
    # Parsed and dumped again, so the file ends with a newline and nothing else
    # about the response (its exact bytes) can leak into the comparison.
    return json.dumps(response.get_json(), indent=2, ensure_ascii=False) + "\n"


def _run(argv, **kwargs):
    result = subprocess.run(argv, check=False, **kwargs)  # noqa: S603 -- pinned local tools
    if result.returncode:
        sys.exit(f"failed ({result.returncode}): {' '.join(map(str, argv))}")


def _generator_python():
    """.venv-clients's python, with the pinned generator installed (again only when
    the requirements file changed)."""
    python = GENERATOR_VENV / "bin" / "python"
    if not python.exists():
        print("Creating .venv-clients for openapi-python-client ...", flush=True)
        venv.create(GENERATOR_VENV, with_pip=True)
    stamp = GENERATOR_VENV / ".installed"
    wanted = hashlib.sha256(GENERATOR_REQUIREMENTS.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"Installing {GENERATOR_REQUIREMENTS.relative_to(ROOT)} ...", flush=True)
        _run([python, "-m", "pip", "install", "--quiet", "-r", GENERATOR_REQUIREMENTS])
        stamp.write_text(wanted)
    return python


def generate_typescript(document, output):
    binary = TYPESCRIPT / "node_modules" / ".bin" / "openapi-typescript"
    if not binary.exists():
        sys.exit("openapi-typescript is not installed: run `npm ci` in clients/typescript")
    # --read-write-markers: request bodies leave out readOnly fields (id,
    # timestamps) and responses writeOnly ones (passwords); openapi-fetch reads
    # the markers. --default-non-nullable false: a field with a default may be
    # left out of a request, as the API allows.
    options = ["--read-write-markers", "--default-non-nullable", "false"]
    _run([binary, document, "--output", output, *options], cwd=TYPESCRIPT)


PROBLEM_REF = "#/components/schemas/Problem"


def _plain_problems(node):
    """``node`` with every error response's schema reduced to the plain Problem.

    The document narrows each error response to its statuses and codes
    (``allOf: [Problem, {status: {const: 400}, code: {enum: [...]}}]``).
    openapi-python-client cannot merge an ``integer`` with a ``const`` and would
    drop every error response from the client; given the plain Problem, each
    operation parses its errors into the ``Problem`` class. The TypeScript
    types keep the narrowing.
    """
    if isinstance(node, dict):
        parts = node.get("allOf")
        if isinstance(parts, list) and parts and parts[0] == {"$ref": PROBLEM_REF}:
            return {"$ref": PROBLEM_REF}
        return {key: _plain_problems(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain_problems(item) for item in node]
    return node


SCHEMA_PREFIX = "#/components/schemas/"


def _request_schemas_without_read_only(document):
    """``document`` where a request body whose schema has ``readOnly`` properties
    names a copy of it without them, ``<Name>Input``.

    openapi-python-client ignores ``readOnly``: its ``Product`` class needs an
    ``id`` and timestamps to be built and would send them, and the API refuses
    unknown fields. The TypeScript side reads the same markers itself
    (``--read-write-markers``).
    """
    schemas = document["components"]["schemas"]
    for operations in document["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            for media in operation["requestBody"]["content"].values():
                ref = media["schema"].get("$ref", "")
                name = ref.removeprefix(SCHEMA_PREFIX)
                schema = schemas.get(name, {})
                properties = schema.get("properties", {})
                read_only = {key for key, value in properties.items() if value.get("readOnly")}
                if not ref.startswith(SCHEMA_PREFIX) or not read_only:
                    continue
                writable = {
                    **schema,
                    "properties": {k: v for k, v in properties.items() if k not in read_only},
                }
                if "required" in schema:
                    writable["required"] = [k for k in schema["required"] if k not in read_only]
                schemas[f"{name}Input"] = writable
                media["schema"] = {"$ref": f"{SCHEMA_PREFIX}{name}Input"}
    return document


def python_document(document):
    """The document as openapi-python-client is given it (see the two functions above)."""
    return _request_schemas_without_read_only(_plain_problems(document))


def generate_python(document, output_dir):
    """The package ``flask_api_client`` (and its setup.py) into ``output_dir``."""
    python = _generator_python()
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "out"
        adapted = Path(scratch) / "openapi-python.json"
        adapted.write_text(
            json.dumps(python_document(json.loads(document.read_text(encoding="utf-8"))))
        )
        env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}"}
        _run(
            [
                python,
                "-m",
                "openapi_python_client",
                "generate",
                "--path",
                adapted,
                # A construct the generator cannot express fails the run instead of
                # quietly leaving an operation or a response out of the client.
                "--fail-on-warning",
                "--config",
                GENERATOR_CONFIG,
                "--output-path",
                target,
                "--meta",
                "setup",
            ],
            cwd=scratch,
            env=env,
        )
        for name in (PACKAGE, "setup.py"):
            destination = output_dir / name
            if destination.is_dir():
                shutil.rmtree(destination)
            elif destination.exists():
                destination.unlink()
            source = target / name
            if source.is_dir():
                shutil.copytree(source, destination)
            else:
                shutil.copy2(source, destination)


def generate(into):
    """Write the document and both clients under ``into`` (a copy of clients/'s layout)."""
    document = into / "openapi.json"
    document.write_text(openapi_document(), encoding="utf-8")
    (into / "typescript" / "src").mkdir(parents=True, exist_ok=True)
    (into / "python").mkdir(parents=True, exist_ok=True)
    generate_typescript(document, into / "typescript" / "src" / "schema.d.ts")
    generate_python(document, into / "python")


def _differences(comparison, prefix=""):
    found = [prefix + name for name in comparison.left_only + comparison.right_only]
    found += [prefix + name for name in comparison.diff_files + comparison.funny_files]
    for name, sub in comparison.subdirs.items():
        found += _differences(sub, f"{prefix}{name}/")
    return found


GENERATED = ["openapi.json", "typescript/src/schema.d.ts", "python/setup.py", f"python/{PACKAGE}"]


def check():
    """Regenerate into a temporary folder; list every file that differs from clients/."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch)
        generate(fresh)
        differing = []
        for name in GENERATED:
            new, old = fresh / name, CLIENTS / name
            if new.is_dir() and old.is_dir():
                ignore = [*filecmp.DEFAULT_IGNORES, "*.pyc"]
                differing += _differences(filecmp.dircmp(old, new, ignore=ignore), f"{name}/")
            elif not (new.is_file() and old.is_file() and filecmp.cmp(new, old, shallow=False)):
                differing.append(name)
    if differing:
        print(
            "The committed clients differ from what the API's OpenAPI document generates:\n"
            + "".join(f"    clients/{name}\n" for name in differing)
            + "Run `python3 dev.py clients` and commit the result.",
            file=sys.stderr,
        )
        return 1
    print("The committed clients match the API's OpenAPI document.")
    return 0


def main(argv):
    if argv == ["--check"]:
        return check()
    if argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    generate(CLIENTS)
    print("Regenerated clients/openapi.json, clients/typescript/src/schema.d.ts and")
    print(f"clients/python/{PACKAGE}; commit them with the change to the API.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
