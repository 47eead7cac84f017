"""The ground floor every app stands on, and which imports none of them: the exception tree
(`exceptions.py`), masking of phones and free text (`masking.py`, `log_masking.py`), the degraded
modes' log line and metric (`degraded.py`), the SIGTERM drain (`drain.py`) and the read-only admin
(`admin.py`). The project package (`fintalk/`: settings, urls, asgi) sits on top and nobody imports it.
"""
