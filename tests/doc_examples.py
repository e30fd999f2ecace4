"""The shell examples of README.md and docs/*.md, read and run as a reader would.

A page's fenced blocks tagged ``sh``, ``bash``, ``shell`` or ``console`` run in
document order in one bash process (so a variable set in one block is there in
the next), from the project folder, against a fresh development server:

- ``sh``/``bash``/``shell`` blocks run as they are; the page fails at the first
  command that fails (``set -eo pipefail``).
- ``console`` blocks are transcripts: each ``$ `` line (with the lines that
  continue it: after a line ending in ``\\``, and lines starting ``> ``) is a
  command, and the lines after it, up to the next ``$ ``, are its output. The
  output is compared with what the command printed, after ``normalise``:
  ``...`` stands for any text, and timestamps, 32-digit hex ids (request ids,
  ETags), UUIDs and long tokens match any of their kind.
- A block that must not run (production setup, a second terminal, the test
  suite itself) has ``<!-- doctest: skip (why) -->`` on the line before it (or
  before the blank lines above it), so every skip is visible on the page.

``API=http://127.0.0.1:5000/api`` is the one base URL of the guides; the test
serves on a free port and puts that port wherever a block or an output says
5000. Blocks in other languages (``json``, ``text``, ``python`` ...) are shown
output or code for other tools, and never run.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^```(\S*)\s*$")
SKIP = re.compile(r"^<!--\s*doctest:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->\s*$")
DOC_PORT = "5000"


def pages():
    """Every page a reader follows: README.md and each docs/*.md, found by name."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass
class Command:
    line: int  # 1-based line of the page where the command starts
    code: str
    expected: str | None = None  # a transcript's output; None for a plain block


@dataclass
class Block:
    line: int
    language: str
    text: str
    skip_reason: str | None = None
    commands: list[Command] = field(default_factory=list)


def blocks(path):
    """The page's fenced code blocks, in order, with their skip markers."""
    found, lines = [], Path(path).read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        start, language = index, opening.group(1).lower()
        index += 1
        body = []
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        index += 1  # the closing fence
        block = Block(start + 1, language, "\n".join(body))
        above = start - 1
        while above >= 0 and not lines[above].strip():
            above -= 1
        marker = SKIP.match(lines[above].strip()) if above >= 0 else None
        if marker:
            block.skip_reason = marker.group("reason").strip()
        block.commands = _commands(block)
        found.append(block)
    return found


def _commands(block):
    if block.language not in RUN:
        return []
    if block.language != "console":
        return [Command(block.line + 1, block.text)]
    commands, lines = [], block.text.splitlines()
    index = 0
    while index < len(lines):
        if not lines[index].startswith("$ "):
            index += 1  # text before the first prompt: prose, not output
            continue
        start, code = index, [lines[index][2:]]
        index += 1
        while index < len(lines) and (code[-1].endswith("\\") or lines[index].startswith("> ")):
            code.append(lines[index].removeprefix("> "))
            index += 1
        output = []
        while index < len(lines) and not lines[index].startswith("$ "):
            output.append(lines[index])
            index += 1
        commands.append(Command(block.line + 1 + start, "\n".join(code), "\n".join(output)))
    return commands


def runnable(path):
    """The commands of the page that run, in order."""
    return [c for b in blocks(path) if b.language in RUN and not b.skip_reason for c in b.commands]


# What differs from run to run, replaced on both sides before comparing.
_VARIABLE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])"), "<hex>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"[A-Za-z0-9_\-.]{40,}"), "<token>"),
]
_PUNCTUATION_SPACE = re.compile(r"\s*([{}\[\],:])\s*")


def normalise(text, port=DOC_PORT):
    """Text as compared: this run's port written as the docs' 5000, variable values
    replaced by their kind, and white space only where it separates words (JSON may
    be wrapped on the page and on one line in the answer)."""
    text = text.replace("\r", "").replace(f"127.0.0.1:{port}", f"127.0.0.1:{DOC_PORT}")
    for pattern, kind in _VARIABLE:
        text = pattern.sub(kind, text)
    text = re.sub(r"\s+", " ", text).strip()
    return _PUNCTUATION_SPACE.sub(r"\1", text)


def matches(expected, actual, port=DOC_PORT):
    """Whether ``actual`` is what the page shows; ``...`` on the page is any text."""
    parts = [re.escape(part) for part in normalise(expected).split("...")]
    pattern = re.compile(".*?".join(parts), re.DOTALL)
    return pattern.fullmatch(normalise(actual, port)) is not None


def script(commands, port, outputs):
    """One bash script running every command in order, each one's output (stdout
    and stderr) into ``outputs/<n>``, stopping at the first failure."""
    lines = ["set -eo pipefail", f'OUT="{outputs}"']
    for number, command in enumerate(commands):
        code = command.code.replace(f"127.0.0.1:{DOC_PORT}", f"127.0.0.1:{port}")
        code = code.replace(f"localhost:{DOC_PORT}", f"localhost:{port}")
        lines += [
            f'echo {number} > "$OUT/last"',
            "{",
            code,
            f'}} > "$OUT/{number}" 2>&1 </dev/null',
        ]
    lines.append('echo done > "$OUT/last"')
    return "\n".join(lines) + "\n"
