"""Everything a caller can ask the bank to do, one declaration each (`declare.py` says what a
declaration holds and what follows from it). The modules here are the bank's own actions; an app
above the bank declares its own the same way and imports them in its AppConfig.ready
(outbound/actions.py)."""
from bank.actions.declare import REGISTRY, Action, Outcome, Result, action, perform, recognise, result

__all__ = ["REGISTRY", "Action", "Outcome", "Result", "action", "perform", "recognise", "result"]
