"""Gunicorn's configuration for Fintalk (gunicorn loads ./gunicorn.conf.py from its working directory).

Only what has a reason to differ from gunicorn's defaults lives here; the command line,
GUNICORN_CMD_ARGS and WEB_CONCURRENCY override it (bind address, workers, proxy addresses).

How a deploy drops no call: on SIGTERM the master closes its listening sockets and sends SIGTERM
to every worker. A uvicorn worker then stops accepting connections, closes the idle keep-alive
ones, lets every response already running (streams included) finish and sends no more requests
on their connections, runs the ASGI lifespan shutdown (fintalk/asgi.py) and exits. The master
waits `graceful_timeout` for that, then kills what is left, so it is sized above the longest turn.
"""
import os

# The longest turn a caller can be in: the first word within FINTALK_FIRST_TOKEN_TIMEOUT (18 s),
# then a tool round that may wait BEDROCK_READ_TIMEOUT x BEDROCK_MAX_ATTEMPTS (15 s x 3) on
# Bedrock, then the answer (512 tokens, a few seconds): about 70 s. A worker exits as soon as its
# last response ends, so the margin costs nothing when turns are short. Kubernetes'
# terminationGracePeriodSeconds and compose's stop_grace_period are sized above it (plus preStop).
graceful_timeout = 90

# An idle client connection stays open this long: longer than the proxy's own idle timeout
# (deploy/nginx.conf keeps upstream connections 60 s; cloud load balancers default to 60 s), so
# the proxy always closes an idle connection first and never sends a request on one being closed.
keepalive = 75

# Gunicorn 25+ opens a control socket (~/.gunicorn/gunicorn.ctl) that can resize or stop the
# server. Nothing here uses it; it cannot be created on a read-only root filesystem, and every
# gunicorn of one user on a host would share the same path.
control_socket_disable = True


def child_exit(server, worker):
    # With several workers, Prometheus metrics live in PROMETHEUS_MULTIPROC_DIR; forget dead workers.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
