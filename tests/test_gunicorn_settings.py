"""gunicorn.conf.py read in-process: the worker model its settings choose, and
its worker hook with an app other than the service's (bench/ceiling_app.py)."""

import gc
import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

from flask import Flask

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


def load(monkeypatch, **environ):
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_sync_workers_are_sync_whatever_the_threads_setting(monkeypatch):
    # gunicorn itself turns a sync worker with threads > 1 into gthread.
    conf = load(monkeypatch, GUNICORN_WORKER_CLASS="sync", GUNICORN_THREADS="4")
    assert (conf["worker_class"], conf["threads"]) == ("sync", 1)


def test_gthread_workers_have_the_threads_asked_for(monkeypatch):
    conf = load(monkeypatch, GUNICORN_WORKER_CLASS="gthread", GUNICORN_THREADS="3")
    assert (conf["worker_class"], conf["threads"]) == ("gthread", 3)


def test_a_worker_of_another_flask_app_boots(monkeypatch):
    """The service's mail sender starts only with the service's app: the bare
    Flask ceiling of bench/compare.py has no MAIL_SENDER setting."""
    conf = load(monkeypatch)
    monkeypatch.delenv("GUNICORN_PID", raising=False)
    log = SimpleNamespace(error_log=logging.getLogger("gunicorn-settings.gunicorn.error"))
    worker = SimpleNamespace(cfg=SimpleNamespace(pidfile=None), wsgi=Flask("ceiling"), log=log)
    try:
        conf["post_worker_init"](worker)
    finally:
        gc.unfreeze()
