"""What several test modules share: the demo bank's callers, running a tool in a turn's context,
reading Prometheus text, waiting for a condition with a deadline, and the markers the suite
applies by itself (`markers`, registered from tests/conftest.py)."""
