"""Publishing editions: a file dropped into products/ sells only once someone publishes it,
every publish and withdraw is recorded, the running service switches without a restart,
and policies keep their own edition for claims and refunds."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from policy_service import create_app
from policy_service.adapters.tables import quotes
from policy_service.adapters.unit_of_work import SqlUnitOfWork
from policy_service.cli import main
from policy_service.config import Config
from policy_service.domain.errors import Conflict, InvalidRequest, NotFound
from policy_service.domain.publication import EditionStatus, PublicationAction
from policy_service.services import publishing
from policy_service.services.publishing import FIRST_START_ACTOR
from policy_service.services.replay import replay
from pricing.loader import load_product
from pricing.model import Product

from ..claims_helpers import Bearer, provider_key, shipment_return
from ..conftest import START, ApiClient, Clock, shipping_policy, shipping_risk
from ..edition_files import drop_editions_after, write_shipping_edition

SOON = "2026-11-27T00:00:00+08:00"  # two days after the test clock starts


@pytest.fixture
def products_copy(products_copy: Path) -> Path:
    """The product files as they stood when the tests' clock starts: an edition dated later
    would be one more unpublished file in every listing below."""
    drop_editions_after(products_copy, START)
    return products_copy


def _product(products: Path) -> Product:
    return load_product(products / "return_shipping", products)


def _publish(engine: sa.Engine, products: Path, edition: str, clock: Clock, actor: str = "alice"):  # type: ignore[no-untyped-def]
    return publishing.publish(
        SqlUnitOfWork(engine), _product(products), edition, actor, None, clock()
    )


def _quote(api: ApiClient, **risk: str) -> tuple[str, str]:
    status, quote = api.post(
        "/v1/quotes", {"product": "return_shipping", "risk": shipping_risk(**risk)}
    )
    assert status == 201, quote
    return quote["edition"]["id"], quote["premium"]["total"]["amount"]


def _on_sale(api: ApiClient) -> list[str]:
    status, product = api.get("/v1/products/return_shipping")
    assert status == 200
    return [e["id"] for e in product["editions"]]


def _poll(app: Flask) -> None:
    """As if the reload interval had passed: the next request checks files and publications."""
    app.extensions["policy_service"].catalog._next_check = 0.0


def _statuses(engine: sa.Engine, products: Path, clock: Clock) -> dict[str, EditionStatus]:
    return {
        s.edition_id: s.status
        for s in publishing.status(SqlUnitOfWork(engine), _product(products), clock())
    }


def test_a_dropped_edition_sells_only_once_published_and_from_its_date(
    live_app: Flask, live_api: ApiClient, products_copy: Path, engine: sa.Engine, clock: Clock
) -> None:
    new = write_shipping_edition(products_copy, "2026-12", SOON, apparel="2.40")
    report = live_app.extensions["policy_service"].catalog.reload()
    assert report.not_on_sale == {
        "return_shipping": ["edition 2026-12 is not published: not on sale"]
    }
    assert _on_sale(live_api) == ["2026-11", "2026-11-25"]

    done = _publish(engine, products_copy, "2026-12", clock)
    assert done.recorded and not done.in_force_now
    assert done.other is not None and done.other.id == "2026-11-25"  # sells until then
    pub = done.publication
    assert (pub.actor, pub.recorded_at, pub.action) == ("alice", START, PublicationAction.PUBLISH)
    assert pub.content_hash == _product(products_copy).edition("2026-12").content_hash  # type: ignore[union-attr]
    assert new.exists()

    # published by another process: no file changed, the publication alone is noticed
    _poll(live_app)
    assert _quote(live_api) == ("2026-11-25", "2.09")  # scheduled, not in force yet
    assert _on_sale(live_api) == ["2026-11", "2026-11-25", "2026-12"]
    clock.advance(days=2)
    # 0.80 x 2.40 x 1.00 x 1.00 x 1.10 x 1.08 = 2.28096
    assert _quote(live_api, delivery_date="2026-12-01") == ("2026-12", "2.28")
    assert not _publish(engine, products_copy, "2026-12", clock).recorded  # nothing twice


def test_old_policies_keep_their_edition_for_claims_and_refunds(
    live_app: Flask,
    live_api: ApiClient,
    products_copy: Path,
    engine: sa.Engine,
    clock: Clock,
) -> None:
    status, old = live_api.post("/v1/policies", shipping_policy("order-1"))
    assert status == 201 and old["edition"]["id"] == "2026-11-25"
    _, old_cancelled = live_api.post("/v1/policies", shipping_policy("order-2"))
    # in force since 01:30Z, before the test clock's 02:00Z: it sells at once
    write_shipping_edition(
        products_copy,
        "2026-12",
        "2026-11-25T09:30:00+08:00",
        base="0.85",
        apparel="2.40",
        cap="20.00",
        refund_before_delivery="none",
    )
    done = _publish(engine, products_copy, "2026-12", clock)
    assert done.in_force_now and done.other is not None and done.other.id == "2026-11-25"
    _poll(live_app)
    _, new = live_api.post("/v1/policies", shipping_policy("order-3"))
    _, new_cancelled = live_api.post("/v1/policies", shipping_policy("order-4"))
    # 0.85 x 2.40 x 1.10 x 1.08 = 2.42352
    assert (new["edition"]["id"], new["premium"]["total"]["amount"]) == ("2026-12", "2.42")
    assert (old["edition"]["id"], old["premium"]["total"]["amount"]) == ("2026-11-25", "2.09")

    # refunds: the old edition refunds in full before delivery, the new one nothing
    for pol, refund in ((old_cancelled, "2.09"), (new_cancelled, "0.00")):
        status, cancelled = live_api.post(f"/v1/policies/{pol['id']}/cancel", {"reason": "other"})
        assert status == 200, cancelled
        assert cancelled["cancellation"]["refund"]["amount"] == refund

    # claims: a 24.00 pickup is paid up to each policy's own cap (25.00 old, 20.00 new)
    clock.advance(days=2)
    feed = Bearer(live_app.test_client(), provider_key(engine))
    for n in (1, 3):
        status, _ = feed.post(
            "/v1/trigger-events", shipment_return(f"order-{n}", "24.00", tracking=f"SF00000{n}")
        )
        assert status in (200, 201)
    paid = {}
    for pol in (old, new):
        _, claims = live_api.get("/v1/claims", policy=pol["id"])
        (claim,) = claims["data"]
        paid[pol["edition"]["id"]] = (claim["status"], claim["amount_paid"]["amount"])
    assert paid == {"2026-11-25": ("paid", "24.00"), "2026-12": ("paid", "20.00")}

    report = replay(SqlUnitOfWork(engine), _product(products_copy))
    assert (report.checked, report.differences) == (4, [])


def test_a_correction_takes_a_scheduled_edition_off_sale_until_published_again(
    live_app: Flask, live_api: ApiClient, products_copy: Path, engine: sa.Engine, clock: Clock
) -> None:
    new = write_shipping_edition(products_copy, "2026-12", SOON, apparel="2.40")
    first = _publish(engine, products_copy, "2026-12", clock).publication
    region = new / "region.csv"
    region.write_text(region.read_text().replace("cn_north,1.05", "cn_north,1.06"))
    report = live_app.extensions["policy_service"].catalog.reload()
    [warning] = report.not_on_sale["return_shipping"]
    assert warning.startswith("edition 2026-12 changed after alice published it at 2026-11-25")
    assert "not on sale until it is published again" in warning
    assert _on_sale(live_api) == ["2026-11", "2026-11-25"]
    assert _statuses(engine, products_copy, clock)["2026-12"] is EditionStatus.CHANGED

    second = _publish(engine, products_copy, "2026-12", clock, actor="bob")
    assert second.recorded and second.publication.content_hash != first.content_hash
    _poll(live_app)
    assert _on_sale(live_api) == ["2026-11", "2026-11-25", "2026-12"]


def test_a_scheduled_edition_can_be_withdrawn_but_not_one_in_force(
    live_app: Flask, live_api: ApiClient, products_copy: Path, engine: sa.Engine, clock: Clock
) -> None:
    write_shipping_edition(products_copy, "2026-12", SOON, apparel="2.40")
    _publish(engine, products_copy, "2026-12", clock)
    entry = publishing.withdraw(
        SqlUnitOfWork(engine), "return_shipping", "2026-12", "bob", "wrong table", clock()
    )
    assert (entry.action, entry.actor, entry.note) == (
        PublicationAction.WITHDRAW,
        "bob",
        "wrong table",
    )
    _poll(live_app)
    assert _on_sale(live_api) == ["2026-11", "2026-11-25"]
    clock.advance(days=2)
    assert _quote(live_api, delivery_date="2026-12-01")[0] == "2026-11-25"

    with pytest.raises(Conflict) as again:
        publishing.withdraw(
            SqlUnitOfWork(engine), "return_shipping", "2026-12", "bob", None, clock()
        )
    assert again.value.code == "edition_withdrawn"
    with pytest.raises(Conflict) as live:
        publishing.withdraw(
            SqlUnitOfWork(engine), "return_shipping", "2026-11-25", "bob", None, clock()
        )
    assert live.value.code == "edition_in_force"
    assert "publish a corrected edition" in live.value.message
    actions = [
        (p.edition, p.action.value)
        for p in publishing.history(SqlUnitOfWork(engine), "return_shipping")
    ]
    assert actions[-2:] == [("2026-12", "publish"), ("2026-12", "withdraw")]


def test_publishing_refuses_an_edition_that_would_never_sell_or_a_failing_product(
    live_app: Flask, products_copy: Path, engine: sa.Engine, clock: Clock
) -> None:
    write_shipping_edition(products_copy, "2026-11-20", "2026-11-20T00:00:00+08:00")
    with pytest.raises(Conflict) as hidden:
        _publish(engine, products_copy, "2026-11-20", clock)
    assert hidden.value.code == "edition_never_in_force"
    assert "edition 2026-11-25 (from 2026-11-25T08:00:00+08:00) is later" in hidden.value.message

    with pytest.raises(NotFound, match="no edition 2027-01"):
        _publish(engine, products_copy, "2027-01", clock)
    with pytest.raises(InvalidRequest, match="who publishes"):
        _publish(engine, products_copy, "2026-11-20", clock, actor="  ")

    write_shipping_edition(products_copy, "2026-12", SOON, apparel="2.40")
    tests_file = products_copy / "return_shipping" / "tests.yaml"
    tests_file.write_text(
        tests_file.read_text()
        + """
- name: apparel after the new year's rates
  quoted_at: 2026-11-28T10:00:00+08:00
  risk: {platform: taobao, order_id: "T9", order_value: {amount: "299.00", currency: CNY},
         category: apparel, buyer_return_band: medium, merchant_return_band: low,
         shipping_region: cn_east, delivery_date: "2026-12-01"}
  expect: {total: "2.09"}
"""
    )
    with pytest.raises(Conflict) as failing:
        _publish(engine, products_copy, "2026-12", clock)
    assert failing.value.code == "product_tests_fail"
    assert "return_shipping/tests.yaml:" in failing.value.message
    assert "apparel after the new year's rates" in failing.value.message
    statuses = _statuses(engine, products_copy, clock)
    assert statuses["2026-12"] is statuses["2026-11-20"] is EditionStatus.UNPUBLISHED


def test_policies_keep_their_edition_when_its_files_change_or_go(
    config: Config,
    live_app: Flask,
    live_api: ApiClient,
    products_copy: Path,
    engine: sa.Engine,
    clock: Clock,
) -> None:
    _, first = live_api.post("/v1/policies", shipping_policy("order-1"))
    _, second = live_api.post("/v1/policies", shipping_policy("order-2"))
    folder = products_copy / "return_shipping" / "editions" / "2026-11-25"
    table = folder / "category.csv"
    table.write_text(table.read_text().replace("apparel,2.20", "apparel,9.99"))
    report = live_app.extensions["policy_service"].catalog.reload()
    [message] = report.refused["return_shipping"]
    assert "already used by quotes or policies and may not change" in message
    assert "restore its files" in message

    # a restart while refused: nothing new is sold, the policies keep their edition
    app = create_app(config.with_(products_dir=products_copy), clock=clock)
    try:
        api = ApiClient(app.test_client(), live_api.key, live_api.partner_id)
        status, err = api.post(
            "/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()}
        )
        assert (status, err["error"]["code"]) == (400, "unknown_product")
        status, cancelled = api.post(f"/v1/policies/{first['id']}/cancel", {"reason": "other"})
        assert status == 200, cancelled
        assert cancelled["cancellation"]["refund"]["amount"] == "2.09"  # the recorded rules
    finally:
        app.extensions["policy_service"].dispose()

    # the folder removed: the product sells again, old policies are served from the record
    shutil.rmtree(folder)
    report = live_app.extensions["policy_service"].catalog.reload()
    assert "return_shipping" in report.loaded
    [warning] = report.not_on_sale["return_shipping"]
    assert "edition 2026-11-25 was published but its folder is gone" in warning
    assert "rebuilt from the files recorded" in warning
    assert _quote(live_api) == ("2026-11", "2.09")  # the previous published edition
    status, cancelled = live_api.post(f"/v1/policies/{second['id']}/cancel", {"reason": "other"})
    assert status == 200 and cancelled["cancellation"]["refund"]["amount"] == "2.09"
    assert (
        replay(SqlUnitOfWork(engine), _product(products_copy)).differences != []
    )  # gone from disk: named


def test_a_withdrawal_stops_sales_even_while_the_product_is_refused(
    live_app: Flask, live_api: ApiClient, products_copy: Path, engine: sa.Engine, clock: Clock
) -> None:
    write_shipping_edition(products_copy, "2026-12", SOON, apparel="2.40")
    _publish(engine, products_copy, "2026-12", clock)
    _poll(live_app)
    assert _quote(live_api)[0] == "2026-11-25"  # now used
    table = products_copy / "return_shipping" / "editions" / "2026-11-25" / "category.csv"
    table.write_text(table.read_text().replace("apparel,2.20", "apparel,9.99"))
    assert live_app.extensions["policy_service"].catalog.reload().refused["return_shipping"]
    assert _on_sale(live_api) == ["2026-11", "2026-11-25", "2026-12"]  # the last valid version
    publishing.withdraw(SqlUnitOfWork(engine), "return_shipping", "2026-12", "bob", None, clock())
    _poll(live_app)
    assert _on_sale(live_api) == ["2026-11", "2026-11-25"]


def test_withdrawing_closes_before_the_date_and_once_the_edition_is_used(
    live_app: Flask, live_api: ApiClient, products_copy: Path, engine: sa.Engine, clock: Clock
) -> None:
    write_shipping_edition(products_copy, "2026-12", "2026-11-25T10:03:00+08:00")  # 02:03Z
    _publish(engine, products_copy, "2026-12", clock)
    with pytest.raises(Conflict) as soon:
        publishing.withdraw(
            SqlUnitOfWork(engine), "return_shipping", "2026-12", "bob", None, clock()
        )
    assert soon.value.code == "edition_in_force"
    assert "comes in force from 2026-11-25T02:03:00+00:00" in soon.value.message
    assert "withdrawing closes 5 minutes before" in soon.value.message

    clock.advance(minutes=5)
    _poll(live_app)
    assert _quote(live_api)[0] == "2026-12"
    write_shipping_edition(products_copy, "2027-01", "2027-01-01T00:00:00+08:00")
    _publish(engine, products_copy, "2027-01", clock)
    with engine.begin() as conn:  # as if a quote had come in on it by a process's clock
        conn.execute(
            quotes.update()
            .where(quotes.c.edition_id == "return_shipping/2026-12")
            .values(edition_id="return_shipping/2027-01")
        )
    with pytest.raises(Conflict) as used:
        publishing.withdraw(
            SqlUnitOfWork(engine), "return_shipping", "2027-01", "bob", None, clock()
        )
    assert used.value.code == "edition_used"
    with pytest.raises(NotFound):
        publishing.withdraw(
            SqlUnitOfWork(engine), "return_shipping", "2099-01", "bob", None, clock()
        )


def test_the_first_start_publishes_only_the_editions_in_force(
    config: Config, engine: sa.Engine, products_copy: Path, clock: Clock
) -> None:
    write_shipping_edition(products_copy, "2026-12", SOON)
    for _ in range(2):  # a second start (another worker) records nothing more
        app = create_app(config.with_(products_dir=products_copy), clock=clock)
        app.extensions["policy_service"].dispose()
    assert _statuses(engine, products_copy, clock) == {
        "2026-11": EditionStatus.SUPERSEDED,
        "2026-11-25": EditionStatus.LIVE,
        "2026-12": EditionStatus.UNPUBLISHED,
    }
    entries = publishing.history(SqlUnitOfWork(engine), "return_shipping")
    assert [(e.edition, e.actor) for e in entries] == [
        ("2026-11", FIRST_START_ACTOR),
        ("2026-11-25", FIRST_START_ACTOR),
    ]


def test_the_cli_publishes_withdraws_and_shows_the_record(
    live_app: Flask,
    live_api: ApiClient,
    products_copy: Path,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # far ahead, so the command's wall clock always sees it as scheduled
    write_shipping_edition(products_copy, "2099-01", "2099-01-01T00:00:00+08:00")
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    where = ["--path", str(products_copy)]

    def run(*args: str) -> tuple[int, str]:
        files = [] if args[0] == "withdraw" else where  # withdraw reads the database only
        answer = CliRunner().invoke(main, ["products", *args, *files])
        assert answer.exception is None or isinstance(answer.exception, SystemExit)
        return answer.exit_code, answer.output

    code, out = run("status", "return_shipping")
    assert code == 0, out
    assert "2099-01          unpublished  2099-01-01T00:00:00+08:00" in out
    code, out = run(
        "publish", "return_shipping", "2099-01", "--by", "alice", "--note", "rates 2099"
    )
    assert code == 0, out
    assert "published return_shipping/2099-01 (sha256:" in out and ") by alice at " in out
    assert "scheduled: in force from 2099-01-01T00:00:00+08:00; 2026-11-25 sells until then" in out
    code, out = run("publish", "return_shipping", "2099-01")
    assert code == 0 and "is already published" in out and "by alice" in out
    code, out = run("publish", "return_shipping", "2099-01", "--by", " ")
    assert code == 1 and "by: must be 1 to 200 characters" in out
    code, out = run("publish", "return_shipping", "2099-02")
    assert code == 1 and "return_shipping has no edition 2099-02" in out
    code, out = run("withdraw", "return_shipping", "2099-01", "--by", "bob")
    assert code == 0 and "withdrew return_shipping/2099-01 by bob" in out
    code, out = run("status", "return_shipping", "--history")
    assert code == 0
    assert "2099-01          withdrawn" in out
    assert "2026-11-25       live" in out
    history = [line for line in out.splitlines() if " 2099-01 sha256:" in line]
    assert len(history) == 2
    assert history[0].endswith("by alice (rates 2099)") and " publish " in history[0]
    assert history[1].endswith("by bob") and " withdraw " in history[1]

    # a used edition whose files changed: a clear refusal, not a traceback
    assert (
        live_api.post("/v1/quotes", {"product": "return_shipping", "risk": shipping_risk()})[0]
        == 201
    )
    table = products_copy / "return_shipping" / "editions" / "2026-11-25" / "category.csv"
    table.write_text(table.read_text().replace("apparel,2.20", "apparel,9.99"))
    code, out = run("publish", "return_shipping", "2099-01")
    assert code == 1
    assert (
        "Error: edition 2026-11-25 is already used by quotes or policies and may not change" in out
    )
    code, out = run("status", "return_shipping")
    assert code == 1 and "  ! edition 2026-11-25 (published by policy-service (first start)" in out


def test_publishing_before_the_first_start_keeps_the_shipped_editions_on_sale(
    config: Config,
    engine: sa.Engine,
    products_copy: Path,
    clock: Clock,
) -> None:
    write_shipping_edition(products_copy, "2026-12", SOON)
    on_disk = [_product(products_copy), load_product(products_copy / "flight_delay", products_copy)]
    publishing.publish(
        SqlUnitOfWork(engine), on_disk[0], "2026-12", "alice", None, clock(), on_disk
    )
    app = create_app(config.with_(products_dir=products_copy), clock=clock)
    try:
        catalog = app.extensions["policy_service"].catalog
        assert [e.id for e in catalog.get("return_shipping").editions] == [
            "2026-11",
            "2026-11-25",
            "2026-12",
        ]
        assert [e.id for e in catalog.get("flight_delay").editions] == ["2026-11", "2026-11-25"]
    finally:
        app.extensions["policy_service"].dispose()


def test_a_database_failure_during_a_reload_fails_no_request_and_is_retried(
    live_app: Flask,
    live_api: ApiClient,
    products_copy: Path,
    engine: sa.Engine,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_shipping_edition(products_copy, "2026-12", "2026-11-25T09:30:00+08:00", apparel="2.40")
    _publish(engine, products_copy, "2026-12", clock)
    real = publishing.serving
    failures = iter([True])

    def flaky(conn: sa.Connection, product: Product, now: datetime) -> publishing.Serving:
        if product.code == "return_shipping" and next(failures, False):
            raise sa.exc.OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real(conn, product, now)

    monkeypatch.setattr(publishing, "serving", flaky)
    _poll(live_app)
    assert _quote(live_api) == ("2026-11-25", "2.09")  # served from what was loaded
    assert "product return_shipping: the database failed while loading it" in caplog.text
    _poll(live_app)
    assert _quote(live_api) == ("2026-12", "2.28")  # the next check tried again
