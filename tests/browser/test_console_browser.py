"""The ops console in a real browser: what reviewers and approvers do all day."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from ..conftest import Clock
from ..console_helpers import PASSWORD, add_staff, seed_book, seed_review_work
from .conftest import screenshot

NewPage = Callable[..., Page]


def _login(page: Page, base: str, email: str, then: str = "/ops/claims") -> None:
    page.goto(f"{base}{then}")
    expect(page).to_have_url(f"{base}/ops/login?next={then}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    expect(page).to_have_url(f"{base}{then}")


def _filters_ready(page: Page) -> None:
    """Wait until htmx has wired the (swapped-in) filter form: a change made before that is
    lost, as it would be for a person who clicks within those milliseconds."""
    page.wait_for_function(
        "() => document.querySelector('#queue-filters')?.['htmx-internal-data']?.initHash"
    )


def test_a_reviewer_filters_the_queue_opens_a_claim_and_approves_it(
    app: Flask, engine: sa.Engine, clock: Clock, live_server: str, new_page: NewPage
) -> None:
    ids = seed_review_work(seed_book(app, engine, clock), clock)
    add_staff(engine, "li.na@ops.example", "reviewer")
    page = new_page()
    _login(page, live_server, "li.na@ops.example")
    rows = page.locator("#queue-results tbody tr")
    expect(rows).to_have_count(4)
    expect(page.get_by_test_id("queue-count")).to_contain_text("4")
    screenshot(page, "queue")

    # Filters reload the results in place (htmx) and stay in the address bar.
    _filters_ready(page)
    page.select_option("select[name=signal]", "filed_claim")
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"[?&]signal=filed_claim"))
    _filters_ready(page)
    page.fill("input[name=amount_max]", "150")
    page.press("input[name=amount_max]", "Enter")
    expect(rows).to_have_count(1)
    expect(page.get_by_test_id("queue-count")).to_contain_text("1")
    # The options' counts follow the other filters.
    expect(page.locator("select[name=product] option[value=return_shipping]")).to_have_text(
        "return_shipping (0)"
    )
    _filters_ready(page)
    page.select_option("select[name=product]", "return_shipping")
    expect(rows).to_have_count(0)
    page.go_back()  # the browser's history holds each filter
    expect(rows).to_have_count(1)
    expect(page.locator("h1")).to_have_text("Claims queue")
    _filters_ready(page)
    page.select_option("select[name=product]", "flight_delay")
    expect(rows).to_have_count(1)

    page.click(f"a:text('{ids['filed_100']}')")
    expect(page.locator("h1")).to_contain_text(ids["filed_100"])
    expect(page.locator("#signals")).to_contain_text("filed by the partner")
    expect(page.locator("#policy")).to_contain_text("Premium worksheet")
    expect(page.locator("#audit")).to_contain_text("refer")
    screenshot(page, "claim")
    page.fill("#approve-form textarea[name=reason]", "airline letter checked")
    page.click("#approve-form button")
    expect(page.locator(".flash.ok")).to_have_text("The decision was saved.")
    expect(page.get_by_test_id("closed")).to_contain_text("paid")
    expect(page.locator("#audit")).to_contain_text("li.na@ops.example")

    page.click("text=Back to the queue")
    expect(rows).to_have_count(3)
    expect(page.locator(f"#queue-results a:text('{ids['filed_100']}')")).to_have_count(0)

    page.click("nav >> text=Dashboard")
    expect(page.locator("svg.chart")).to_have_count(5)
    expect(page.locator("#loss-ratios tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("backlog")).to_have_text("3")
    screenshot(page, "dashboard")


def test_above_the_limit_an_approver_must_confirm(
    app: Flask, engine: sa.Engine, clock: Clock, live_server: str, new_page: NewPage
) -> None:
    ids = seed_review_work(seed_book(app, engine, clock, days=2), clock)
    add_staff(engine, "li.na@ops.example", "reviewer")
    add_staff(engine, "zhao.min@ops.example", "approver")
    claim_url = f"/ops/claims/{ids['filed_250']}"

    reviewer = new_page()
    _login(reviewer, live_server, "li.na@ops.example", claim_url)
    reviewer.fill("#approve-form textarea[name=reason]", "letter matches the booking")
    reviewer.click("#approve-form button")
    pending = reviewer.get_by_test_id("pending-second-approval")
    expect(pending).to_contain_text("li.na@ops.example")
    expect(pending).to_contain_text("waiting for a second approver")
    expect(reviewer.locator("h1 .status")).to_have_text("in review")
    # Approving again alone is refused, and says why.
    reviewer.click("#approve-form button")
    expect(reviewer.locator(".flash.error")).to_contain_text("second, different approver")
    screenshot(reviewer, "claim-second-approval")

    approver = new_page()
    _login(approver, live_server, "zhao.min@ops.example", claim_url)
    expect(approver.get_by_test_id("pending-second-approval")).to_be_visible()
    approver.click("#approve-form button")
    expect(approver.get_by_test_id("closed")).to_contain_text("paid")
    expect(approver.locator("#audit")).to_contain_text("approve_first")


def test_a_post_without_the_csrf_token_is_refused(
    app: Flask, engine: sa.Engine, clock: Clock, live_server: str, new_page: NewPage
) -> None:
    ids = seed_review_work(seed_book(app, engine, clock, days=1), clock)
    add_staff(engine, "li.na@ops.example", "reviewer")
    page = new_page()
    _login(page, live_server, "li.na@ops.example", f"/ops/claims/{ids['filed_100']}")
    # The logged-in browser itself sends the request (its session cookie goes along).
    answer = page.request.post(
        f"{live_server}/ops/claims/{ids['filed_100']}/approve",
        form={"amount": "100.00", "reason": "forged"},
    )
    assert answer.status == 400
    assert "did not come from this console" in answer.text()
    page.reload()
    expect(page.locator("h1 .status")).to_have_text("in review")
    expect(page.locator("#approve-form")).to_be_visible()


def test_a_reviewer_cannot_reach_the_staff_page(
    app: Flask, engine: sa.Engine, live_server: str, new_page: NewPage
) -> None:
    add_staff(engine, "li.na@ops.example", "reviewer")
    add_staff(engine, "boss@ops.example", "admin")
    reviewer = new_page()
    _login(reviewer, live_server, "li.na@ops.example")
    expect(reviewer.locator("nav >> text=Staff")).to_have_count(0)
    answer = reviewer.goto(f"{live_server}/ops/staff")
    assert answer is not None and answer.status == 403
    expect(reviewer.locator(".error-message")).to_contain_text("role may not open this page")

    admin = new_page()
    _login(admin, live_server, "boss@ops.example", "/ops/staff")
    expect(admin.locator("#staff-table")).to_contain_text("li.na@ops.example")


def test_the_console_in_chinese(
    app: Flask, engine: sa.Engine, clock: Clock, live_server: str, new_page: NewPage
) -> None:
    ids = seed_review_work(seed_book(app, engine, clock), clock)
    add_staff(engine, "li.na@ops.example", "reviewer")
    page = new_page(locale="zh-CN")
    _login(page, live_server, "li.na@ops.example", "/ops/")
    expect(page.locator("h1")).to_have_text("概览")  # from the browser's Accept-Language
    screenshot(page, "dashboard-zh")
    page.goto(f"{live_server}/ops/claims?lang=en")
    expect(page.locator("h1")).to_have_text("Claims queue")
    page.click("text=中文")
    expect(page.locator("h1")).to_have_text("理赔审核队列")
    expect(page.locator("#queue-results")).to_contain_text("¥250.00")
    screenshot(page, "queue-zh")
    page.goto(f"{live_server}/ops/claims/{ids['reused']}")
    expect(page.locator("#signals")).to_contain_text("证据重复使用")
    screenshot(page, "claim-zh")


def test_an_incident_page_shows_every_policy_its_report_paid(
    app: Flask, engine: sa.Engine, clock: Clock, live_server: str, new_page: NewPage
) -> None:
    """A reviewer finds a flight's report among the incidents, opens it, and sees the
    policies it matched with their claims and what was paid (the product and its paying
    report read from products/)."""
    from policy_service.adapters.unit_of_work import SqlUnitOfWork
    from policy_service.services.partners import create_partner

    from ..claims_helpers import Bearer, provider_key
    from ..conftest import START, ApiClient
    from ..endorsement_helpers import CASE, issue

    partner, key = create_partner(SqlUnitOfWork(engine), "Trip Co", "partner_settled", False, START)
    policy = issue(ApiClient(app.test_client(), key, partner.id), clock)
    fact = CASE.trigger
    assert fact is not None
    clock.now = fact.observed_at + timedelta(minutes=1)
    report = {
        "type": fact.type.name,
        "data": fact.type.fields.to_json(fact.values),
        "observed_at": fact.observed_at.isoformat(),
    }
    status, posted = Bearer(app.test_client(), provider_key(engine)).post(
        "/v1/trigger-events", report
    )
    assert status == 201, posted
    add_staff(engine, "li.na@ops.example", "reviewer")
    page = new_page()
    _login(page, live_server, "li.na@ops.example", "/ops/incidents")
    page.select_option("select[name=type]", fact.type.name)
    page.click("form.filters button[type=submit]")
    page.click(f"text={posted['id']}")
    expect(page).to_have_url(f"{live_server}/ops/incidents/{posted['id']}")
    expect(page.locator("#matched")).to_contain_text(policy["id"])
    expect(page.locator("#matched")).to_contain_text("paid")
    expect(page.locator("#totals")).to_contain_text(str(CASE.expect["amount"]))
    screenshot(page, "incident")
