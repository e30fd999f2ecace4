"""The guides run as written: README.md and every docs/*.md page (tests/doc_examples.py).

``test_page_runs`` (marker ``doctest``, its own stage in ``.ci/run``:
``python3 dev.py test -m doctest``) runs each page's shell examples, in order,
against a fresh development server in a copy of the project: ``dev.py reset``,
then ``dev.py serve`` on a free port, as a reader starts. A new page is picked
up by its name. The other tests here check, on every run of the suite, the
conventions that keep the pages runnable by anyone: one base URL, tools a fresh
Debian has, the virtual environment's programs.
"""

import re
import shutil
import subprocess

import pytest

from tests import doc_examples
from tests.helpers import skip_or_fail
from tests.servers import DevServer, clean_environment, project_copy

PAGES = doc_examples.pages()
PAGE_TIMEOUT = 300  # seconds for one page's examples
API_LINE = "API=http://127.0.0.1:5000/api"
BARE_PROGRAMS = {"flask", "gunicorn", "pytest", "pip", "ruff"}  # .venv/bin/... instead


def _page_id(path):
    return str(path.relative_to(doc_examples.ROOT))


def _shell_blocks():
    for page in PAGES:
        for block in doc_examples.blocks(page):
            if block.language in doc_examples.RUN:
                yield page, block


def _where(page, block):
    return f"{_page_id(page)}:{block.line}"


def test_every_page_is_found():
    names = {_page_id(page) for page in PAGES}
    assert {"README.md", "docs/api-guide.md", "docs/accounts.md", "docs/retries.md"} <= names


def test_skipped_blocks_say_why():
    """A skip marker needs a reason, and only shell blocks can be skipped."""
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if line.strip().startswith("<!--") and "doctest:" in line:
                assert doc_examples.SKIP.match(line.strip()), f"{_page_id(page)}:{number}: {line}"
        for block in doc_examples.blocks(page):
            if block.skip_reason:
                assert block.language in doc_examples.RUN, _where(page, block)


def test_one_base_url():
    """The running examples reach the API only through $API, set one way everywhere."""
    for page, block in _shell_blocks():
        if block.skip_reason:
            continue
        for line in block.text.splitlines():
            if re.match(r"\s*(export\s+)?(API|BASE)=", line):
                assert line.strip() == API_LINE, f"{_where(page, block)}: {line}"
        assert "127.0.0.1:8000" not in block.text, f"{_where(page, block)}: port 8000"
        assert "$API/api/" not in block.text, _where(page, block)


def test_tools_a_fresh_debian_has():
    """``uuidgen`` is not installed on Debian; an empty key would silently be no key."""
    for page, block in _shell_blocks():
        assert "uuidgen" not in block.text, _where(page, block)


def test_programs_from_the_virtual_environment():
    """A bare ``flask``/``gunicorn``/``pytest`` may be another Python's."""
    for page, block in _shell_blocks():
        for line in block.text.splitlines():
            code = line.removeprefix("$ ").split("#", 1)[0]
            for command in re.split(r"[;|&(]|\$\(", code):
                words = [w for w in command.split() if not re.match(r"[A-Za-z_]\w*=", w)]
                if words and words[0] == "export":
                    continue
                assert not words or words[0] not in BARE_PROGRAMS, (
                    f"{_where(page, block)}: {line.strip()}"
                )


def test_transcripts_compare():
    """The comparison the page test relies on: variable values and wrapping ignored,
    anything else not."""
    shown = '{"id": 295, "created_at": "2026-11-24T09:06:57.851Z",\n "request_id": "..."}'
    answer = '{"id":295,"created_at":"2031-01-02T03:04:05.678Z","request_id":"ab12"}\n'
    assert doc_examples.matches(shown, answer)
    assert not doc_examples.matches(shown, answer.replace("295", "296"))
    assert doc_examples.matches(
        "Link: <http://127.0.0.1:5000/api/x>", "Link: <http://127.0.0.1:6123/api/x>", port=6123
    )


@pytest.mark.doctest
@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_runs(page, tmp_path):
    commands = doc_examples.runnable(page)
    if not commands:
        return  # nothing on the page talks to the API
    if shutil.which("jq") is None or shutil.which("curl") is None:
        skip_or_fail("the guides use curl and jq (apt-get install curl jq)")
    project = project_copy(tmp_path / "project")
    env = clean_environment(HOME=str(tmp_path))
    reset = subprocess.run(  # noqa: S603 -- as the reader runs it
        [shutil.which("python3") or "python3", "dev.py", "reset"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert reset.returncode == 0, reset.stderr
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    with DevServer(project, tmp_path / "serve.log", env=env) as server:
        server.wait_ready()
        script = tmp_path / "page.sh"
        script.write_text(doc_examples.script(commands, server.port, outputs))
        try:
            ran = subprocess.run(  # noqa: S603 -- the page's own examples
                [shutil.which("bash") or "/bin/bash", str(script)],
                cwd=project,
                env=env,
                timeout=PAGE_TIMEOUT,
                capture_output=True,
                text=True,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{_page_id(page)}: the examples took over {PAGE_TIMEOUT} s")
    last = (outputs / "last").read_text().strip()
    for number, command in enumerate(commands):
        where = f"{_page_id(page)}:{command.line}"
        output_file = outputs / str(number)
        output = output_file.read_text(errors="replace") if output_file.exists() else ""
        if last == str(number):
            pytest.fail(
                f"{where}: failed (exit {ran.returncode}):\n{command.code}\n--- output:\n"
                f"{output}{ran.stderr}\n--- server log (end):\n{server.log[-3000:]}"
            )
        if command.expected is not None and not doc_examples.matches(
            command.expected, output, port=server.port
        ):
            pytest.fail(
                f"{where}: the output differs from the page:\n$ {command.code}\n"
                f"--- the page shows:\n{command.expected}\n--- the command printed:\n{output}"
            )
    assert last == "done", ran.stderr
    errors = [line for line in server.log.splitlines() if re.search(r'"status": 5\d\d', line)]
    assert not errors, f"{_page_id(page)}: the server answered 5xx:\n" + "\n".join(errors)
