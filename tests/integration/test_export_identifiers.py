"""An exported book carries an identifier input (an order or tracking number, product.yaml's
`identifiers:`) as its keyed hash, never the number: the same order gives the same hash.
Impact and replay on that book still price every policy (a stand-in every edition
accepts), through the CLI as an actuary runs them. Products are read from products/."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from policy_service import create_app
from policy_service.adapters import parquet_book
from policy_service.cli import main
from policy_service.config import Config
from policy_service.services.book_export import Masking, export_table
from pricing.loader import load_catalog
from pricing.model import Product
from tests.conftest import ApiClient, Clock, make_partner
from tests.edition_files import PRODUCTS

NAMED = [p for _, p in sorted(load_catalog(PRODUCTS).products.items()) if p.identifiers]
POLICIES = 3


def _sellable(product: Product) -> tuple[Any, dict[str, Any]]:
    """A premium test case of the product and its risk, which names the identifiers."""
    for case in product.tests:
        edition = product.edition_at(case.quoted_at)
        if case.kind != "premium" or "refused" in case.expect or edition is None:
            continue
        if set(product.identifiers) <= set(case.risk):
            return case, dict(case.risk)
    raise AssertionError(f"{product.code}: no sellable premium case names its identifiers")


def _cli(args: list[str], env: dict[str, str]) -> str:
    answer = CliRunner(env=env).invoke(main, args)
    assert answer.exit_code == 0, answer.output
    return answer.output


def _identifiers(folder: Path, product: Product) -> list[str]:
    frame = pd.concat(pd.read_parquet(p) for p in sorted(folder.rglob("*.parquet")))
    return sorted(json.loads(r)[n] for r in frame["risk"] for n in product.identifiers)


@pytest.mark.parametrize("product", NAMED, ids=lambda p: p.code)
def test_an_identifier_leaves_as_its_keyed_hash_and_the_book_still_prices(
    product: Product, config: Config, engine: sa.Engine, clock: Clock, tmp_path: Path
) -> None:
    case, risk = _sellable(product)
    # started at the case's time, the service has its edition on sale
    clock.now = case.quoted_at.astimezone(UTC)
    app = create_app(config, clock=clock)
    api = ApiClient(app.test_client(), *reversed(make_partner(engine)))
    numbers: list[dict[str, str]] = []
    for i in range(POLICIES):
        # another order (parcel) each time: one thing is covered once
        mine = {name: f"{risk[name][:-1]}{i}" for name in product.identifiers}
        numbers.append(mine)
        status, policy = api.post(
            "/v1/policies",
            {"product": product.code, "external_ref": f"ident-{i}", "risk": {**risk, **mine}},
        )
        assert status == 201, policy
    svc = app.extensions["policy_service"]
    out = tmp_path / "book"
    catalog = load_catalog(PRODUCTS)
    masking = Masking.of(catalog.products.values(), svc.config.pii_hash_key, catalog.triggers)
    later = clock.now + timedelta(hours=1)
    assert export_table(svc.uow, "policies", out, None, None, later, masking).rows == POLICIES
    # rows hidden otherwise never join the dataset: another key, other identifiers, or
    # a folder from before identifiers were hashed
    for other in (
        Masking(b"another-key", masking.identifiers),
        Masking(masking.hash_key, {**masking.identifiers, product.code: ()}),
    ):
        with pytest.raises(LookupError, match="export into a new folder"):
            export_table(svc.uow, "policies", out, None, None, later, other)
    assert export_table(svc.uow, "policies", out, None, None, later, masking).rows == 0
    state = parquet_book.read_state(out, "policies")
    parquet_book.write_state(out, "policies", {k: v for k, v in state.items() if k != "masking"})
    with pytest.raises(LookupError, match="from before identifiers were hashed"):
        export_table(svc.uow, "policies", out, None, None, later, masking)
    parquet_book.write_state(out, "policies", state)
    app.extensions["policy_service"].dispose()

    hashed = sorted(
        hmac.new(svc.config.pii_hash_key, f"input:{n}:{v}".encode(), hashlib.sha256).hexdigest()
        for mine in numbers
        for n, v in mine.items()
    )
    assert _identifiers(out / "policies", product) == hashed
    files = b"".join(p.read_bytes() for p in (out / "policies").rglob("*.parquet"))
    for mine in numbers:
        for value in mine.values():
            assert value.encode() not in files

    env = {
        "DATABASE_URL": config.database_url,
        "DATA_DIR": str(tmp_path),
        "PII_HASH_KEY": svc.config.pii_hash_key.decode(),
    }
    if later < datetime.now(UTC):  # the command exports what is older than a few minutes
        _cli(["export", "policies", "--out", str(tmp_path / "by-cli")], env)
        assert _identifiers(tmp_path / "by-cli" / "policies", product) == hashed

    edition = product.edition_at(case.quoted_at)
    assert edition is not None
    args = ["--book", str(out), "--path", str(PRODUCTS)]
    impact = _cli(
        ["products", "impact", product.code, "--from", edition.id, "--to", edition.id,
         *args, "--json", "--mode", "test", "--html", str(tmp_path / "i.html")],
        env,
    )  # fmt: skip
    report = json.loads(impact[impact.index("{") :])
    assert report["rows"] == POLICIES and report["priced_on_both"] == POLICIES
    replay = _cli(["products", "replay", product.code, *args], env)
    assert f"{POLICIES} policies" in replay and "0 differ" in replay, replay
