"""/readyz says whether the process may take traffic (database and products); /healthz only
that it answers."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from policy_service.adapters.db import create_db_engine
from policy_service.adapters.unit_of_work import SqlUnitOfWork


def test_ready_when_the_database_answers_and_products_are_loaded(app: Flask) -> None:
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok" and body["checks"]["products"].startswith("ok (")


def test_not_ready_while_the_database_is_down_but_still_alive(app: Flask) -> None:
    services = app.extensions["policy_service"]
    working = services.uow
    # a database nobody answers at: as if the server went away under the running service
    services.uow = SqlUnitOfWork(
        create_db_engine("postgresql://postgres@127.0.0.1:1/gone", pool_size=1)
    )
    try:
        answer = app.test_client().get("/readyz")
        assert answer.status_code == 503
        body = answer.get_json()
        assert body["status"] == "not_ready"
        assert body["checks"]["database"].startswith("unavailable (")
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        services.uow.dispose()
        services.uow = working
    assert app.test_client().get("/readyz").status_code == 200


def test_not_ready_without_products(app: Flask, engine: sa.Engine) -> None:
    catalog = app.extensions["policy_service"].catalog
    kept = dict(catalog._products)
    catalog._products.clear()
    try:
        answer = app.test_client().get("/readyz")
        assert answer.status_code == 503
        assert answer.get_json()["checks"]["products"] == "no product loaded and on sale"
    finally:
        catalog._products.update(kept)
