"""Waiting for something another process or thread does, by polling it against a deadline.

A fixed sleep either wastes time or, on a busy CI machine, is too short; `wait_until` returns as
soon as the condition holds and fails with the last value seen when the deadline passes.
"""
import time


def wait_until(condition, timeout: float, interval: float = 0.02, message: str = ""):
    """Poll `condition()` until it returns something truthy (which is returned), at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout} s{': ' + message if message else ''} (last: {value!r})")
        time.sleep(interval)
