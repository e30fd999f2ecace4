"""The lock files (dev.py installs from them) hold every pin of the requirements files."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dev():
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_each_lock_file_holds_its_requirements_pins(dev, lock):
    # After a requirements*.txt change: python3 dev.py lock
    assert dev.stale_pins(lock) == []
    text = (ROOT / lock).read_text()
    assert "--hash=sha256:" in text


def test_a_pin_changed_after_locking_is_named(dev, tmp_path, monkeypatch):
    (tmp_path / "requirements.txt").write_text("# runtime\nFlask==3.1.3\nredis==9.9.9\n")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\npytest==9.2.0\n")
    (tmp_path / "requirements.lock").write_text(
        "flask==3.1.3 \\\n    --hash=sha256:aa\nredis==8.1.0 \\\n    --hash=sha256:bb\n"
    )
    monkeypatch.setattr(dev, "ROOT", tmp_path)
    assert dev.stale_pins("requirements.lock") == ["redis==9.9.9 (requirements.txt)"]
