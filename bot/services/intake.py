"""Taking in decision events: recorded in the database, or spooled, before Slack sees an ack.

The guarantee: an event Slack saw acknowledged is never lost. The Bolt app runs with
`process_before_response=True`, so Slack's answer waits for the listener, and the listener
calls `Intake.take`: it records the event in the database, waiting for another writer at
most `decision_wait_ms` (Slack wants its answer within 3 s); if the database cannot take it
(locked beyond that, read-only, corrupt, deleted or replaced), the event goes to the durable
spool beside it. Only if the spool cannot take it either does `take` raise: the listener
fails, Slack gets a 5xx (or no ack in Socket Mode) and redelivers later.

Why both: acknowledging first (Bolt's default) loses every event whose write fails after
the 200; waiting for the database alone would turn every long lock into Slack's retries,
which stop after three and may disable the app's events. The spool answers fast and the
database catches up (bot/services/spool_apply.py records what the spool holds, exactly
once).

Group commit: with `synchronous=FULL` every commit costs an fsync, and one writer thread
committing each event alone spends its time waiting for the disk while the next events
queue. So the writer takes every event queued by then into one transaction (one fsync),
and releases each waiting listener only once that transaction committed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sqlite3
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

from newsbot.bot.newsroom.decisions import (
    Action,
    Kind,
    Outcome,
    decide,
)
from newsbot.bot.newsroom.message_lookup import article_for_message
from newsbot.bot.services.workers import name_os_thread
from newsbot.storage.db import Store
from newsbot.storage.spool import Spool

log = logging.getLogger(__name__)

# How long a decision waits for another writer before it is spooled: well inside the 3 s
# Slack allows for the answer, leaving time for the spool's fsync and the network.
MAX_DECISION_WAIT_MS = 1_500  # Slack wants its answer within 3 s


def decision_wait_ms(store: Store) -> int:
    """How long a decision waits for another writer before it goes to the spool."""
    return min(MAX_DECISION_WAIT_MS, store.busy_timeout_ms)

SPOOLED = "spooled"  # Outcome.outcome of an event kept in the spool for later


@dataclass(frozen=True)
class DecisionEvent:
    """One editor's decision event as Slack delivered it, ready to record or to spool."""

    key: str  # Slack's event_id, or the click's key: recording it twice changes nothing
    action: Action
    user_id: str
    source: str  # reaction, button
    event_us: int  # Slack's event_ts / action_ts, microseconds since the epoch
    received_at: str  # ISO 8601 UTC, when it arrived
    article_id: str | None = None  # None: the article of the digest message (channel, ts)
    channel: str | None = None
    message_ts: str | None = None
    only_if: Kind | None = None
    toggle: bool = False
    # stamped by another clock than the reactions' (a click's action_ts): ordered after
    # every event of another source recorded for its article before it arrived, whatever
    # the clocks say (decide's after_recorded)
    after_recorded: bool = False

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record: dict) -> DecisionEvent:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})


def new_key() -> str:
    """A key for an event Slack gave none (it still must be applied only once)."""
    return f"local:{uuid.uuid4().hex}"


Recorded = tuple[str, Outcome] | None  # what record answers for one event


def record(store: Store, event: DecisionEvent, wait_ms: int | None = None) -> Recorded:
    """Record the event in the database: (article id, outcome), or None when its message is
    not a digest message. sqlite3.Error when the database cannot take it;
    UnknownArticle / UnusableArticle as decide, bot/newsroom/decisions.py."""
    try:
        return _record(store, event, wait_ms)
    except sqlite3.Error:
        # A connection that read a corrupt page can keep failing after the file is
        # repaired ("file is not a database"): the next attempt opens a fresh one.
        store.close()
        raise


def _record(store: Store, event: DecisionEvent, wait_ms: int | None) -> Recorded:
    article_id = event.article_id or article_for_message(
        store, event.channel or "", event.message_ts or "")
    if article_id is None:
        return None
    outcome = decide(
        store, article_id, event.action, event.user_id, source=event.source,
        event_key=event.key, channel=event.channel, message_ts=event.message_ts,
        only_if=event.only_if, toggle=event.toggle, event_us=event.event_us,
        after_recorded=event.after_recorded, received_at=event.received_at, wait_ms=wait_ms,
        read_standing=False,  # no listener shows it
    )
    return article_id, outcome


def record_together(store: Store, events: list[DecisionEvent],
                    wait_ms: int | None = None) -> list[Recorded | Exception]:
    """Record the events in one durable transaction (one fsync): for each, what `record`
    answers or the exception it raises, in the order given; nothing is answered before
    the commit. They are recorded in event-time order.

    An event refused alone (an unknown article...) is rolled back alone: decide's own
    transaction is a savepoint inside this one. A database error inside the transaction
    or at its commit rolls back all of them, and each is then tried again on its own, so
    one event the database refuses cannot fail the others; when the transaction could
    not even begin (locked, read-only, replaced), every event gets that error."""
    answers: list[Recorded | Exception] = [None] * len(events)
    began = False
    try:
        with store.write(wait_ms, durable=True):
            began = True
            for n in sorted(range(len(events)), key=lambda n: events[n].event_us):
                try:
                    answers[n] = _record(store, events[n], wait_ms)
                except sqlite3.Error:
                    raise
                except Exception as error:  # noqa: BLE001 - it is this event's answer
                    answers[n] = error
    except sqlite3.Error as error:  # store.write closed the connection: the next opens anew
        if not began or len(events) == 1:
            return [error] * len(events)
        log.warning("decisions recorded one by one: their transaction failed",
                    extra={"events": len(events), "reason": str(error)})
        return [_record_alone(store, event, wait_ms) for event in events]
    return answers


def _record_alone(store: Store, event: DecisionEvent,
                  wait_ms: int | None) -> Recorded | Exception:
    try:
        return record(store, event, wait_ms)
    except Exception as error:  # noqa: BLE001 - it is this event's answer
        return error


class Ticket:
    """One listener's event on its way through the writer, and the answer it waits for.

    Two bare locks instead of a concurrent.futures.Future: a Future's answer wakes the
    listener inside the Future's own lock, which the writer still holds, so the listener
    often sleeps a second time on it, and each of those wake-ups is a system call (across
    cores of a virtual machine, an interrupt to another CPU). Here the writer's answer is
    one release of `_done`, which wakes the listener once, or not at all when it has not
    begun to wait."""

    __slots__ = ("event", "answer", "error", "_claimed", "_done")

    def __init__(self, event: DecisionEvent) -> None:
        self.event = event
        self.answer: Recorded = None
        self.error: BaseException | None = None
        # taken by whichever comes first: the writer (it records the event) or the
        # listener giving up (it never will)
        self._claimed = threading.Lock()
        self._done = threading.Lock()
        self._done.acquire()

    def claim(self) -> bool:
        """True once, for the first to ask: the writer taking it or the listener giving up."""
        return self._claimed.acquire(blocking=False)

    def answer_with(self, answer: Recorded, error: BaseException | None = None) -> None:
        """On the writer: the event is committed (or refused): wake its listener."""
        self.answer, self.error = answer, error
        self._done.release()

    def wait(self, timeout: float) -> bool:
        """On the listener: True once answered, False after `timeout` seconds."""
        return self._done.acquire(timeout=timeout)


class Intake:
    """Records decision events, or spools them when the database cannot take them.

    One writer thread records them all: SQLite takes one writer at a time anyway, and
    listener threads racing for the write lock would spend their time in the busy
    handler's sleeps; that thread also keeps its connection open. Each listener queues
    its event and wakes the writer, unless a wake is pending; a pass records every event
    queued, up to MAX_BATCH in one transaction (record_together), until none is left, so a
    pass that finds the queue emptied by an earlier one does nothing. A listener waits for
    its event at most the write wait plus half a second; past that (a queue behind a held
    database) the event is spooled, and if the writer records it after all, applying the
    spooled copy finds its key and changes nothing.

    Once the database failed, events go straight to the spool for `RETRY_SECONDS` (one
    event then tries the database again): during an outage every answer stays fast, and
    a server with a fixed pool of threads is not tied up waiting for the database. After
    `close`, events go to the spool too: the next start applies it."""

    RETRY_SECONDS = 1.0
    MAX_BATCH = 256  # events in one transaction: it holds the write lock a few ms at most

    def __init__(self, store: Store, spool: Spool, wait_ms: int | None = None) -> None:
        self.store, self.spool = store, spool
        self.wait_ms = decision_wait_ms(store) if wait_ms is None else wait_ms
        self._queued: deque[Ticket] = deque()
        # released to ask the writer for a pass; a pass asked for and not begun yet will
        # take an event queued now too, so its listener need not ask again
        self._wake = threading.Lock()
        self._wake.acquire()
        self._pass_asked = False
        self._writing = False  # a pass is running (tests wait for it)
        self._closing = False
        self._down_until = 0.0  # time.monotonic() before which the database is not tried
        self._writer = threading.Thread(target=self._run, name="decisions", daemon=True)
        self._writer.start()

    def take(self, event: DecisionEvent) -> tuple[str | None, Outcome] | None:
        """(article id, outcome) once the event is durable; the article id is None and the
        outcome SPOOLED when it went to the spool. None: not a decision (not a digest
        message). OSError when neither the database nor the spool could keep it."""
        if self._closing:
            return self._spool(event, "newsbot is stopping")
        if time.monotonic() < self._down_until:
            return self._spool(event, "the database failed less than a second ago")
        ticket = Ticket(event)
        self._queued.append(ticket)
        if self._closing and ticket.claim():  # close began meanwhile: nothing may write it
            return self._spool(event, "newsbot is stopping")
        self._ask_for_pass()
        if ticket.wait(self.wait_ms / 1000 + 0.5):
            if ticket.error is None:
                return ticket.answer
            if not isinstance(ticket.error, sqlite3.Error) or not unavailable(ticket.error):
                raise ticket.error
            reason = str(ticket.error)
        else:
            ticket.claim()  # not taken yet: never will be; taken: its key makes it once
            reason = "waited too long for the database"
        self._down_until = time.monotonic() + self.RETRY_SECONDS
        return self._spool(event, reason)

    def _ask_for_pass(self) -> None:
        """Wake the writer, unless a pass is asked for and has not begun (it takes what is
        queued by then). Two listeners may both ask: the second wake finds the lock
        released already, and the pass it would have asked for is the same one."""
        if self._pass_asked:
            return
        self._pass_asked = True
        with contextlib.suppress(RuntimeError):  # released already: a pass is asked for
            self._wake.release()

    def _run(self) -> None:
        """The writer thread: a pass each time it is woken, until `close`. Once it sees
        `_closing` it makes one more pass: a listener that read `_closing` as False had
        queued its event before, and one that reads it as True claims its own event
        unless this pass took it (take)."""
        name_os_thread()
        while True:
            self._wake.acquire()
            self._write_queued()
            if self._closing:
                self._write_queued()
                return

    def _write_queued(self) -> None:
        """Record what is queued in transactions of up to MAX_BATCH, answering each
        listener after its commit, until the queue is empty. A listener that queues once
        this pass began asks for another (or this one takes it). A batch that fails for a
        bug of ours has told its listeners; the pass goes on with the rest."""
        self._writing = True
        try:
            self._pass_asked = False
            while self._queued:
                try:
                    self._write_batch()
                except Exception:
                    log.exception("decision batch failed: its listeners were answered")
        finally:
            self._writing = False

    def _write_batch(self) -> None:
        """Record what is queued now (up to MAX_BATCH) in one transaction, then answer
        each listener (deque.popleft is atomic; only this thread takes from the queue)."""
        batch: list[Ticket] = []
        while self._queued and len(batch) < self.MAX_BATCH:
            ticket = self._queued.popleft()
            if ticket.claim():  # False: its listener gave up
                batch.append(ticket)
        if not batch:
            return
        try:
            answers = record_together(self.store, [ticket.event for ticket in batch],
                                      self.wait_ms)
        except BaseException as error:  # a bug of ours: the listeners fail now, not at time-out
            for ticket in batch:
                ticket.answer_with(None, error)
            raise
        for ticket, result in zip(batch, answers, strict=True):
            if isinstance(result, Exception):
                ticket.answer_with(None, result)
            else:
                ticket.answer_with(result)

    def writing(self) -> bool:
        """A pass is running now."""
        return self._writing

    def close(self, timeout: float) -> bool:
        """Let the events queued be written (up to `timeout`), then end the writer thread;
        events taken from now on go to the spool. False if the writer was still busy."""
        self._closing = True
        with contextlib.suppress(RuntimeError):
            self._wake.release()
        self._writer.join(timeout)
        return not self._writer.is_alive()

    def _spool(self, event: DecisionEvent, reason: str) -> tuple[None, Outcome]:
        new = self.spool.append({**event.to_json(), "spooled_at": time.time()})
        log.warning("decision spooled: the database cannot take it now", extra={
            "event_key": event.key, "user": event.user_id, "source": event.source,
            "reason": reason, "already_spooled": not new,
        })
        return None, Outcome(SPOOLED, None)


def unavailable(error: sqlite3.Error) -> bool:
    """The database cannot take writes now (locked, read-only, corrupt, gone), as opposed
    to a statement of ours it refuses: that would refuse it from the spool forever too."""
    return not isinstance(error, (sqlite3.IntegrityError, sqlite3.ProgrammingError,
                                  sqlite3.InterfaceError, sqlite3.DataError))
