"""Gunicorn hooks (gunicorn loads ./gunicorn.conf.py itself). Settings come from the command line,
GUNICORN_CMD_ARGS and WEB_CONCURRENCY; only what needs code lives here."""
import os


def child_exit(server, worker):
    # With several workers, Prometheus metrics live in PROMETHEUS_MULTIPROC_DIR; forget dead workers.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
