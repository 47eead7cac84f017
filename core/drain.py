"""A worker told to stop (SIGTERM) drains: it notes so, and /readyz answers 503 from then on.

The handler is installed by the ASGI lifespan at worker start (fintalk/asgi.py), after uvicorn
installed its own, and hands the signal over to it; /readyz (api/probes.py) reads `draining()`.
gunicorn.conf.py says how a drain goes.
"""
import signal
import threading

_draining = False


def draining() -> bool:
    """Whether this worker was told to stop and is finishing its running requests."""
    return _draining


def drain_on_sigterm() -> None:
    """Make /readyz answer 503 from the moment this worker is told to stop.

    Called at worker start (ASGI lifespan) after uvicorn installed its own SIGTERM handler, which
    stops accepting connections and lets running responses finish: this handler notes the drain,
    then hands over to it. The listener closes within ~0.1 s of the signal, so most probes then
    meet a refused connection; whatever still reaches the worker hears 503, never 200.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    previous = signal.getsignal(signal.SIGTERM)

    def note_drain_then_stop(signum, frame):
        global _draining
        _draining = True
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:  # nobody handled it before: stop the default way
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, note_drain_then_stop)
