"""A worker starts its turns in the order they came, and before anyone's later words.

When many turns reach one worker at once (a burst), asyncio runs them breadth-first: every turn's
HTTP handling, then every turn's validation, then every turn's set-up and Bedrock request, each
step queued behind the same step of all the others. The first Bedrock request then leaves only
after all N turns were validated, and every first word comes near the end; and once the earliest
answers stream, each of their tokens takes CPU from the turns still starting. Measured in
process (`python -m bench.burst`): with 100 turns at once the first Bedrock request left after
72 ms; with 300, after 230-400 ms, and each turn's first word waited behind ~450 other tokens.

So a request that starts a turn queues at the door (`enter`, called by fintalk.asgi before
Django sees it) for one of SLOTS places, in arrival order, and keeps it until its turn has sent
its first Bedrock request (`started`: agent.bedrock's before-send hook, or the turn's first
event, or its end), HOLD at most, so a turn waiting on a slow database never holds the door.
While turns queue at the door, a streaming turn's next token waits for them (`give_way`), up to
TOKEN_WAIT: a turn's first word goes before another's tenth. With no queue (the usual case),
each costs an attribute check.
"""
import asyncio
import contextvars
import weakref
from collections import deque

SLOTS = 16  # not 1: a turn awaiting a read leaves the CPU to others, and a burst keeps some of asyncio's batching
HOLD = 0.1  # seconds a turn keeps its place at most (its set-up takes ~2 ms of CPU, up to SLOTS x that in a burst)
TOKEN_WAIT = 0.5  # seconds a streaming turn's next token waits at most for the turns at the door


class Ticket:
    """A turn's place at the door; `release` gives it to the next turn (once)."""

    __slots__ = ("door", "held", "timer")

    def __init__(self, door: "Door"):
        self.door, self.held = door, True
        self.timer = door.loop.call_later(HOLD, self.release)

    def release(self) -> None:
        if self.held:
            self.held = False
            self.timer.cancel()
            self.door.leave()


class Door:
    """One event loop's queue of turns waiting to start."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.busy = 0
        self.waiting: deque[asyncio.Future] = deque()
        self.clear = asyncio.Event()  # set while nobody waits at the door
        self.clear.set()

    async def enter(self) -> Ticket:
        if self.busy < SLOTS and not self.waiting:
            self.busy += 1
            return Ticket(self)
        waiter = self.loop.create_future()
        self.waiting.append(waiter)
        self.clear.clear()
        _queued[0] += 1
        try:
            await waiter  # `leave` counted this turn in `busy` when it woke it
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # woken, then cancelled before it could use its place
            else:
                self._forget(waiter)
            raise
        return Ticket(self)

    def leave(self) -> None:
        self.busy -= 1
        while self.waiting and self.busy < SLOTS:
            waiter = self.waiting.popleft()
            _queued[0] -= 1
            if not waiter.done():
                self.busy += 1
                waiter.set_result(None)
        if not self.waiting:
            self.clear.set()

    def _forget(self, waiter: asyncio.Future) -> None:
        try:
            self.waiting.remove(waiter)
            _queued[0] -= 1
        except ValueError:
            pass
        if not self.waiting:
            self.clear.set()


_queued = [0]  # turns waiting at any door of this process: what `give_way` checks first, per token
_doors: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Door]" = weakref.WeakKeyDictionary()
_ticket: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar("fintalk_start_ticket", default=None)


def door() -> Door:
    loop = asyncio.get_running_loop()
    found = _doors.get(loop)
    if found is None:
        found = _doors[loop] = Door(loop)
    return found


async def enter() -> contextvars.Token:
    """Queue for a place to start a turn; the place travels with the request's context."""
    return _ticket.set(await door().enter())


def started() -> None:
    """This context's turn has sent its Bedrock request (or got its first event, or ended): next, please."""
    ticket = _ticket.get()
    if ticket is not None:
        ticket.release()


def queued() -> bool:
    return _queued[0] > 0


async def give_way() -> None:
    """Before a streaming turn's next token: while turns wait at the door, let them start first.
    Callers check `queued()` first (a list read), so that a token pays no coroutine when none wait."""
    found = _doors.get(asyncio.get_running_loop())
    if found is None or not found.waiting:
        return
    try:
        async with asyncio.timeout(TOKEN_WAIT):
            await found.clear.wait()
    except TimeoutError:
        pass
