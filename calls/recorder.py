"""Recording a turn costs the caller nothing: a finished request's record goes on a bounded queue,
and one thread per worker process writes the queue to the database in batches.

- Nothing is written before the first token: a record is queued when its request has finished
  (the stream's end), by `api.observability.RequestRecord.finish`.
- Queueing is a `put_nowait` (a few microseconds, no I/O, on the event loop). Masking, the
  customer lookup and the SQL all run in the writer thread.
- If the database lags, the queue fills up (FINTALK_CALL_RECORD_QUEUE records) and further records
  are dropped and counted (`fintalk_call_records_dropped_total{reason="queue_full"}`) rather than
  slow a stream or grow memory.
- Each record stands alone: its text is made storable (calls.masking.storable) before it is written,
  and a batch the database refuses is written again record by record, so that a record that still
  fails is the only one dropped (`reason="database_error"`, logged with its call id, never its text).
  When the database itself is unreachable the batch is dropped at once (and counted).
- The writer sleeps LINGER_SECONDS after the first record of a batch, then writes what came meanwhile
  (BATCH_SIZE to a transaction), so that under load one transaction writes many turns and the thread
  wakes once a batch. At exit it writes what is still queued (a few seconds at most).
"""
import atexit
import logging
import os
import queue
import threading
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from calls.metrics import RECORDS_DROPPED, RECORDS_WRITTEN

logger = logging.getLogger("fintalk.calls")

BATCH_SIZE = 200
LINGER_SECONDS = 1.0
EXIT_FLUSH_SECONDS = 5.0
_STOP = object()


class Recorder:
    def __init__(self, capacity: int, write=None, batch_size: int = BATCH_SIZE, linger: float = LINGER_SECONDS):
        self.capacity, self.batch_size, self.linger = capacity, batch_size, linger
        self._write_rows = write
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._pid = None
        self._lock = threading.Lock()

    def submit(self, record) -> None:
        """Queue a finished request's record; never blocks. Called on the request's own thread or loop."""
        if self._pid != os.getpid():
            self._start()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            RECORDS_DROPPED.labels(reason="queue_full").inc()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._queue = queue.Queue(maxsize=self.capacity)
            self._thread = threading.Thread(target=self._run, name="fintalk-call-recorder", daemon=True)
            self._thread.start()
            self._pid = os.getpid()
            atexit.register(self.stop)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            # Linger, then take what came meanwhile: one wake of this thread per batch, not one per
            # record (each wake took the GIL from the streams: ~0.1 ms of a turn's CPU, BENCHMARKS.md #32).
            time.sleep(self.linger)
            batch, stop = [first], False
            while not stop:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                else:
                    batch.append(item)
                if len(batch) == self.batch_size:
                    self.write(batch)
                    batch = []
            if batch:
                self.write(batch)
            if stop:
                return

    def write(self, records: list) -> None:
        """Write a batch in one transaction; if the database refuses it, write each record alone, so
        that one record the database cannot keep is dropped (counted, logged with its call id) and the
        others are written."""
        from calls.services import turn_row

        close_old_connections()
        rows = []
        for record in records:
            try:
                rows.append(turn_row(record))
            except Exception as exc:
                self._dropped(getattr(record.turn_input, "call_id", None), exc)
        if not rows:
            return
        try:
            self._write(rows)
        except Exception as exc:
            connection.close()
            if len(rows) == 1 or isinstance(exc, (OperationalError, InterfaceError)):
                self._dropped_batch(rows, exc)  # the database itself is unavailable: one by one would be no better
                return
            self._write_one_by_one(rows)
        else:
            RECORDS_WRITTEN.inc(len(rows))

    def _write(self, rows: list) -> None:
        from calls.services import record_turns

        (self._write_rows or record_turns)(rows)

    def _write_one_by_one(self, rows: list) -> None:
        for index, row in enumerate(rows):
            try:
                self._write([row])
            except Exception as exc:
                connection.close()
                if isinstance(exc, (OperationalError, InterfaceError)):
                    self._dropped_batch(rows[index:], exc)
                    return
                self._dropped(row.call_key, exc)
            else:
                RECORDS_WRITTEN.inc()

    @staticmethod
    def _dropped(call_id: str | None, exc: Exception) -> None:
        RECORDS_DROPPED.labels(reason="database_error").inc()
        logger.error("call record dropped: the database refused it", extra={"call_id": call_id, "records": 1,
                                                                             "error": type(exc).__name__})

    @staticmethod
    def _dropped_batch(rows: list, exc: Exception) -> None:
        if len(rows) == 1:
            Recorder._dropped(rows[0].call_key, exc)
            return
        RECORDS_DROPPED.labels(reason="database_error").inc(len(rows))
        logger.error("call records dropped: the database is unavailable", extra={
            "records": len(rows), "call_ids": sorted({row.call_key for row in rows})[:20],
            "error": type(exc).__name__})

    def stop(self, timeout: float = EXIT_FLUSH_SECONDS) -> None:
        """Write what is queued, then end the thread (at exit, or in tests)."""
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            return
        deadline = time.monotonic() + timeout
        while True:  # the stop marker must get in even when the queue is full
            try:
                self._queue.put(_STOP, timeout=max(0.01, deadline - time.monotonic()))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    return
        self._thread.join(max(0.0, deadline - time.monotonic()))
        self._pid = None


_recorder: Recorder | None = None


def recorder() -> Recorder:
    global _recorder
    if _recorder is None:
        _recorder = Recorder(settings.FINTALK_CALL_RECORD_QUEUE)
    return _recorder
