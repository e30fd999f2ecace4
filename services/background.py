"""Work done after the response: one worker thread per process, jobs in order.

``after_response(job, *args)`` queues ``job(*args)`` to run, in an app context of
the app that asked, once the request's response has been sent (when the WSGI
server closes it). The request costs the same whatever the job will do, and not
even the job's start overlaps the answer a client can time. The queue is
bounded: when it is full the job is dropped and logged rather than let a stuck
mail server pile up memory. Jobs still queued when the process exits normally
(a gunicorn worker's graceful shutdown) are run first, for at most
``DRAIN_SECONDS``; a job lost to a killed process is lost (for a reset mail: the
user asks again).

A failing job is logged by name and exception class only: its arguments and the
exception's text may hold what must never reach a log (a token, SQL parameters).
"""

import atexit
import logging
import os
import queue
import threading

from flask import after_this_request, current_app

log = logging.getLogger("api.background")

MAX_PENDING = 1000
DRAIN_SECONDS = 30

_lock = threading.Lock()
_worker = None


class _Worker:
    def __init__(self):
        self.pid = os.getpid()
        self.jobs = queue.Queue(maxsize=MAX_PENDING)
        self.thread = threading.Thread(target=self._run, name="background-jobs", daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            item = self.jobs.get()
            try:
                if item is None:
                    return
                app, job, args = item
                with app.app_context():
                    job(*args)
            except Exception as exc:
                log.error(
                    "background job failed",
                    extra={"job": getattr(job, "__qualname__", "?"), "error": type(exc).__name__},
                )
            finally:
                self.jobs.task_done()


def _current_worker():
    """This process's worker, started on first use (after a fork, a new one)."""
    global _worker
    with _lock:
        if _worker is None or _worker.pid != os.getpid() or not _worker.thread.is_alive():
            _worker = _Worker()
        return _worker


def after_response(job, *args):
    """Run ``job(*args)`` in this app once the current response has been sent."""
    app = current_app._get_current_object()

    @after_this_request
    def queue_when_sent(response):
        response.call_on_close(lambda: _submit(app, job, args))
        return response


def _submit(app, job, args):
    try:
        _current_worker().jobs.put_nowait((app, job, args))
    except queue.Full:
        log.warning("background queue full; job dropped", extra={"job": job.__qualname__})


def wait_until_idle():
    """Block until every job queued so far has run (tests, shutdown)."""
    worker = _worker
    if worker is not None and worker.pid == os.getpid():
        worker.jobs.join()


@atexit.register
def _drain_at_exit():
    worker = _worker
    if worker is None or worker.pid != os.getpid() or not worker.thread.is_alive():
        return
    try:
        worker.jobs.put(None, timeout=DRAIN_SECONDS)
    except queue.Full:
        return
    worker.thread.join(DRAIN_SECONDS)
