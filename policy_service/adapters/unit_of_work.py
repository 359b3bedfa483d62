"""The unit of work on the database: it opens the transaction, commits it or rolls it back,
and hands out the repositories bound to its connection.

    with uow.write() as tx:      # one transaction: committed when the block ends,
        tx.policies.get(...)     # rolled back if it raises
    with uow.read() as tx:       # reads; the connection is opened only if a repository
        tx.claims.get(...)       # is used (issuing most policies reads nothing first)

Nothing outside the service layer opens a transaction; services/unit_of_work.py says what
a unit of work must offer, and the tests' in-memory one offers the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property

import sqlalchemy as sa

from . import held_inserts
from .claims_repo import ClaimsRepository
from .editions_repo import EditionsRepository
from .endorsements_repo import EndorsementsRepository
from .events_repo import EventsRepository
from .export_repo import ExportRepository
from .idempotency_repo import IdempotencyRepository
from .ledger_repo import LedgerRepository
from .partners_repo import PartnersRepository
from .payments_repo import PaymentsRepository
from .policies_repo import PoliciesRepository
from .privacy_repo import PrivacyRepository
from .quotes_repo import QuotesRepository
from .stats_repo import StatsRepository
from .stripe_events_repo import StripeEventsRepository
from .trigger_types_repo import TriggerTypesRepository
from .triggers_repo import TriggersRepository
from .webhooks_repo import WebhooksRepository


class Tx:
    """The repositories of one unit of work, on one connection opened when first needed."""

    def __init__(self, connect: Callable[[], sa.Connection]) -> None:
        self._connect = connect
        self._conn: sa.Connection | None = None

    @property
    def conn(self) -> sa.Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    @property
    def opened(self) -> bool:
        return self._conn is not None

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """What the block writes is undone if it raises; the transaction goes on."""
        with self.conn.begin_nested():
            yield

    @contextmanager
    def held_inserts(self, hold: bool = True) -> Iterator[Callable[[], bool]]:
        """Inside the block the repositories' inserts are held, and the flush() it yields
        writes them in one statement (PostgreSQL; on SQLite one driver call per table; see
        held_inserts.py). flush() is False when a row that had to go in did not (a
        conflict): the caller must then raise, so the transaction rolls back. With
        `hold` False nothing is held (the general path): every insert runs at once."""
        if not hold:
            yield lambda: True
            return
        conn = self.conn
        held_inserts.hold(conn)
        try:
            yield lambda: held_inserts.flush(conn)
        finally:
            held_inserts.release(conn)

    @cached_property
    def claims(self) -> ClaimsRepository:
        return ClaimsRepository(self.conn)

    @cached_property
    def endorsements(self) -> EndorsementsRepository:
        return EndorsementsRepository(self.conn)

    @cached_property
    def privacy(self) -> PrivacyRepository:
        return PrivacyRepository(self.conn)

    @cached_property
    def editions(self) -> EditionsRepository:
        return EditionsRepository(self.conn)

    @cached_property
    def trigger_types(self) -> TriggerTypesRepository:
        return TriggerTypesRepository(self.conn)

    @cached_property
    def events(self) -> EventsRepository:
        return EventsRepository(self.conn)

    @cached_property
    def export(self) -> ExportRepository:
        return ExportRepository(self.conn)

    @cached_property
    def idempotency(self) -> IdempotencyRepository:
        return IdempotencyRepository(self.conn)

    @cached_property
    def ledger(self) -> LedgerRepository:
        return LedgerRepository(self.conn)

    @cached_property
    def partners(self) -> PartnersRepository:
        return PartnersRepository(self.conn)

    @cached_property
    def payments(self) -> PaymentsRepository:
        return PaymentsRepository(self.conn)

    @cached_property
    def policies(self) -> PoliciesRepository:
        return PoliciesRepository(self.conn)

    @cached_property
    def quotes(self) -> QuotesRepository:
        return QuotesRepository(self.conn)

    @cached_property
    def stats(self) -> StatsRepository:
        return StatsRepository(self.conn)

    @cached_property
    def stripe_events(self) -> StripeEventsRepository:
        return StripeEventsRepository(self.conn)

    @cached_property
    def triggers(self) -> TriggersRepository:
        return TriggersRepository(self.conn)

    @cached_property
    def webhooks(self) -> WebhooksRepository:
        return WebhooksRepository(self.conn)


class SqlUnitOfWork:
    """Units of work on one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield Tx(lambda: conn)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """Reads, on a connection opened only if a repository is used."""
        connections: list[sa.Connection] = []

        def connect() -> sa.Connection:
            connections.append(self.engine.connect())
            return connections[-1]

        try:
            yield Tx(connect)
        finally:
            for conn in connections:
                conn.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()
