"""Readiness: may this process take traffic? The database answers (a query on our own
schema, so a database that is up but not migrated is not ready) and the product catalog
has loaded. Liveness (/healthz) asks nothing of either."""

from __future__ import annotations

import sqlalchemy as sa

from .catalog import ProductCatalog
from .unit_of_work import UnitOfWork


def readiness(uow: UnitOfWork, catalog: ProductCatalog) -> tuple[bool, dict[str, str]]:
    """(ready, what each check found)."""
    checks: dict[str, str] = {}
    try:
        with uow.read() as tx:
            tx.editions.publications_mark()
        checks["database"] = "ok"
    except sa.exc.SQLAlchemyError as exc:
        checks["database"] = f"unavailable ({type(exc).__name__})"
    on_sale = catalog.all()
    checks["products"] = (
        f"ok ({len(on_sale)} on sale)" if on_sale else "no product loaded and on sale"
    )
    if catalog.refused:
        checks["products"] += f"; refused: {', '.join(sorted(catalog.refused))}"
    return checks["database"] == "ok" and bool(on_sale), checks
