"""What a use case asks of a unit of work: a transaction that commits when its block ends
(and rolls back if it raises), or reads, each with the repositories bound to it.

    with uow.write() as tx:
        policy = tx.policies.get(...)
        ...                      # decide in pure code (pricing/, domain/)
        tx.events.insert_many(...)

The SQL unit of work is adapters/unit_of_work.py; the service tests use an in-memory one.
API, console, CLI and worker never open a transaction: they call a use case.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from policy_service.adapters.unit_of_work import Tx

__all__ = ["Tx", "UnitOfWork"]


class UnitOfWork(Protocol):
    def write(self) -> AbstractContextManager[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        ...

    def read(self) -> AbstractContextManager[Tx]:
        """Reads; the connection is opened only if a repository is used."""
        ...
