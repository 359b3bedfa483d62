"""Shared fixtures. The database is SQLite unless DATABASE_URL points at PostgreSQL; the
same API tests run on both (.ci/run runs the suite twice)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from policy_service import create_app
from policy_service.adapters.db import create_db_engine, upgrade
from policy_service.adapters.tables import metadata
from policy_service.adapters.unit_of_work import SqlUnitOfWork
from policy_service.config import Config, load_config
from policy_service.domain.records import ALL_SCOPES
from policy_service.services.partners import create_api_key, create_partner

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = ROOT / "products"
START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def database_url() -> str | None:
    url = os.environ.get("DATABASE_URL")
    return url if url and url.startswith("postgres") else None


requires_postgres = pytest.mark.skipif(
    database_url() is None, reason="needs DATABASE_URL=postgresql://... (.ci/run sets it)"
)


@dataclass
class Clock:
    """A clock the tests move by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = database_url()
    if url is None:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    return load_config({"DATABASE_URL": url, "DATA_DIR": "/tmp", "PII_HASH_KEY": "x"}).database_url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = create_db_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "engine" in request.fixturenames:
        eng: sa.Engine = request.getfixturevalue("engine")
        with eng.begin() as conn, _append_only_lifted(conn):
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())


@contextmanager
def _append_only_lifted(conn: sa.Connection) -> Iterator[None]:
    """The audit log refuses DELETE (database triggers); between tests it must go."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield
        return
    triggers = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_no_delete'"
    ).all()
    for name, _ in triggers:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    yield
    for _, sql in triggers:
        conn.exec_driver_sql(sql)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Config:
    # no rate limit unless a test sets one (tests/api/test_rate_limits.py)
    env = {
        "DATABASE_URL": db_url,
        "DATA_DIR": str(tmp_path),
        "PII_HASH_KEY": "test-pii-key",
        "RATE_LIMIT_DEFAULT": "none",
    }
    return load_config(env).with_(products_dir=PRODUCTS, products_reload_seconds=0, testing=True)


@pytest.fixture
def app(config: Config, engine: sa.Engine, clock: Clock) -> Iterator[Flask]:
    application = create_app(config, clock=clock)
    yield application
    application.extensions["policy_service"].dispose()


@pytest.fixture
def products_copy(tmp_path: Path) -> Path:
    """A private copy of the product files that a test may edit."""
    dest = tmp_path / "products"
    shutil.copytree(PRODUCTS, dest)
    return dest


@pytest.fixture
def live_app(
    config: Config, engine: sa.Engine, clock: Clock, products_copy: Path
) -> Iterator[Flask]:
    """The service on a private copy of the product files, checking them every second."""
    application = create_app(
        config.with_(products_dir=products_copy, products_reload_seconds=1), clock=clock
    )
    yield application
    application.extensions["policy_service"].dispose()


@pytest.fixture
def live_api(live_app: Flask, engine: sa.Engine) -> ApiClient:
    partner_id, key = make_partner(engine)
    return ApiClient(live_app.test_client(), key, partner_id)


@dataclass
class ApiClient:
    """The Flask test client with a partner's key; returns (status, json)."""

    client: FlaskClient
    key: str
    partner_id: str
    headers: dict[str, str] = field(default_factory=dict)

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **self.headers, **(extra or {})}

    def get(self, path: str, **params: Any) -> tuple[int, Any]:
        r = self.client.get(path, headers=self._headers(None), query_string=params)
        return r.status_code, r.get_json()

    def post(
        self, path: str, body: Any, key: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        extra = dict(headers or {})
        if key is not None:
            extra["Idempotency-Key"] = key
        r = self.client.post(path, json=body, headers=self._headers(extra))
        return r.status_code, r.get_json()


def make_partner(
    engine: sa.Engine, name: str = "Acme", live: bool = False, billing: str = "partner_settled"
) -> tuple[str, str]:
    partner, secret = create_partner(SqlUnitOfWork(engine), name, billing, live, START)
    return partner.id, secret


def add_key(
    engine: sa.Engine, partner_id: str, live: bool, scopes: tuple[str, ...] = ALL_SCOPES
) -> str:
    return create_api_key(SqlUnitOfWork(engine), partner_id, live, scopes, START)


@pytest.fixture
def api(app: Flask, engine: sa.Engine) -> ApiClient:
    partner_id, key = make_partner(engine)
    return ApiClient(app.test_client(), key, partner_id)


@pytest.fixture
def other_api(app: Flask, engine: sa.Engine) -> ApiClient:
    partner_id, key = make_partner(engine, "Other Travel")
    return ApiClient(app.test_client(), key, partner_id)


# -- request bodies ----------------------------------------------------------------------

RESIDENT_ID = "11010519491231002X"  # a valid GB 11643 number (published sample)
OTHER_RESIDENT_ID = "440524198801010011"


def shipping_risk(**changes: Any) -> dict[str, Any]:
    risk = {
        "platform": "taobao",
        "order_id": "3958275510028471",
        "order_value": {"amount": "299.00", "currency": "CNY"},
        "category": "apparel",
        "buyer_return_band": "medium",
        "merchant_return_band": "low",
        "shipping_region": "cn_east",
        "delivery_date": "2026-11-28",
    }
    risk.update(changes)
    return risk


def flight_risk(**changes: Any) -> dict[str, Any]:
    risk = {
        "carrier": "MU",
        "flight_number": "MU5101",
        "origin": "SHA",
        "destination": "PEK",
        "scheduled_departure": "2027-07-15T08:00:00+08:00",
    }
    risk.update(changes)
    return risk


def passenger(id_number: str = RESIDENT_ID, name: str = "张三") -> dict[str, Any]:
    return {"name": name, "id_type": "cn_resident_id", "id_number": id_number}


def shipping_policy(ref: str = "order-1", **risk: Any) -> dict[str, Any]:
    """A return_shipping issue request; the marketplace order number follows external_ref."""
    risk.setdefault("order_id", "".join(c for c in ref if c.isalnum() or c in "_-") or "0")
    return {"product": "return_shipping", "external_ref": ref, "risk": shipping_risk(**risk)}


def flight_policy(
    ref: str = "booking-1", holder: dict[str, Any] | None = None, **risk: Any
) -> dict[str, Any]:
    return {
        "product": "flight_delay",
        "external_ref": ref,
        "risk": flight_risk(**risk),
        "policyholder": holder or passenger(),
    }
