"""The ops console over HTTP (Flask test client): logins, sessions, CSRF, roles, the queue's
filters, decisions and their errors, policy search, downloads, languages."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from policy_service import create_app
from policy_service.adapters.tables import claims, staff
from policy_service.adapters.unit_of_work import SqlUnitOfWork
from policy_service.config import Config
from policy_service.services import staff as svc_staff
from policy_service.services.dashboard import dashboard

from ..claims_helpers import DEPARTURE, Bearer, resident_id, staff_token
from ..conftest import ApiClient, Clock, flight_policy, make_partner, passenger
from ..console_helpers import (
    PASSWORD,
    Console,
    add_staff,
    filed_flight_claim,
    logged_in,
    seed_book,
    seed_review_work,
)


def _status(engine: sa.Engine, claim_id: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.select(claims.c.status).where(claims.c.id == claim_id)).scalar())


def _text(page: object) -> str:
    return page.get_data(as_text=True)  # type: ignore[attr-defined,no-any-return]


# -- login, sessions, CSRF ------------------------------------------------------------------


def test_login_says_the_same_for_a_wrong_password_and_an_unknown_e_mail(
    app: Flask, engine: sa.Engine
) -> None:
    add_staff(engine, "li.na@ops.example", "reviewer")
    console = Console(app)
    for email, password in (("li.na@ops.example", "wrong password!"), ("who@x.example", "x")):
        answer = console.login(email, password)
        assert answer.status_code == 401
        assert "Wrong e-mail or password." in _text(answer)  # the same for both
    answer = console.login("LI.NA@ops.example")  # e-mails are not case-sensitive
    assert answer.status_code == 303 and answer.headers["Location"] == "/ops/"
    assert "li.na@ops.example" in _text(console.get("/ops/"))


def test_five_wrong_passwords_lock_the_login_for_a_quarter_hour_from_that_address_only(
    app: Flask, engine: sa.Engine, clock: Clock
) -> None:
    add_staff(engine, "li.na@ops.example", "reviewer")
    guesser, colleague = Console(app), Console(app)
    guesser.client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    colleague.client.environ_base["REMOTE_ADDR"] = "198.51.100.2"
    for _ in range(4):
        assert guesser.login("li.na@ops.example", "wrong password!").status_code == 401
    assert guesser.login("li.na@ops.example").status_code == 303  # a success resets the count
    for _ in range(5):
        assert guesser.login("li.na@ops.example", "wrong password!").status_code == 401
    locked = guesser.login("li.na@ops.example")  # even the right password waits
    assert locked.status_code == 401 and "the login waits 15 minutes" in _text(locked)
    # nobody can keep a staff member out: from her own address she logs in
    assert colleague.login("li.na@ops.example").status_code == 303
    clock.advance(minutes=16)
    assert guesser.login("li.na@ops.example").status_code == 303


def test_one_address_may_only_try_so_often_and_no_password_is_hashed_past_it(
    config: Config, engine: sa.Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(config.with_(login_rate_per_ip="3/minute"), clock=clock)
    add_staff(engine, "li.na@ops.example", "reviewer")
    hashed: list[str] = []
    real = svc_staff.check_password
    monkeypatch.setattr(svc_staff, "check_password", lambda h, p: hashed.append(p) or real(h, p))
    guesser, colleague = Console(app), Console(app)
    guesser.client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    colleague.client.environ_base["REMOTE_ADDR"] = "198.51.100.2"
    for i in range(3):
        assert guesser.login(f"who{i}@x.example", "guess").status_code == 401
    refused = guesser.login("li.na@ops.example")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "Too many attempts from your address" in _text(refused)
    assert len(hashed) == 3  # the fourth attempt cost no hashing
    assert colleague.login("li.na@ops.example").status_code == 303
    app.extensions["policy_service"].dispose()


def test_session_cookies_are_http_only_same_site_and_secure_off_loopback(
    app: Flask, engine: sa.Engine
) -> None:
    add_staff(engine, "li.na@ops.example", "reviewer")
    for base, secure in (("http://127.0.0.1", False), ("https://ops.example.com", True)):
        client = app.test_client()
        page = client.get("/ops/login", base_url=base)
        token = re.search(r'name="csrf_token" value="([^"]+)"', _text(page))
        assert token
        answer = client.post(
            "/ops/login",
            data={"email": "li.na@ops.example", "password": PASSWORD, "csrf_token": token[1]},
            base_url=base,
        )
        cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/ops" in cookie
        assert ("Secure" in cookie) is secure
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_pages_need_a_login_and_come_back_after_it(app: Flask, engine: sa.Engine) -> None:
    add_staff(engine, "li.na@ops.example", "reviewer")
    console = Console(app)
    answer = console.get("/ops/claims?signal=filed_claim")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/ops/login?next=/ops/claims?signal%3Dfiled_claim"
    console.get(answer.headers["Location"])
    answer = console.post(
        "/ops/login",
        {"email": "li.na@ops.example", "password": PASSWORD, "next": "/ops/claims?signal=x"},
    )
    assert answer.headers["Location"] == "/ops/claims?signal=x"
    # Never a redirect off the console.
    console.get("/ops/login")
    answer = console.post(
        "/ops/login",
        {"email": "li.na@ops.example", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert answer.headers["Location"] == "/ops/"


def test_logout_ends_the_session_even_for_a_copied_cookie(app: Flask, engine: sa.Engine) -> None:
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    cookie = console.client.get_cookie("ps_ops_session", path="/ops")
    assert cookie is not None
    console.get("/ops/")
    assert console.post("/ops/logout", {}).status_code == 303
    thief = app.test_client()
    thief.set_cookie("ps_ops_session", cookie.value, path="/ops")
    answer = thief.get("/ops/claims")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/ops/login")
    # Logging in again works.
    assert console.login("li.na@ops.example").status_code == 303


def test_a_disabled_account_is_out_at_its_next_click(
    app: Flask, engine: sa.Engine, clock: Clock
) -> None:
    reviewer = logged_in(app, engine, "li.na@ops.example", "reviewer")
    admin = logged_in(app, engine, "boss@ops.example", "admin")
    with engine.connect() as conn:
        reviewer_id = conn.execute(
            sa.select(staff.c.id).where(staff.c.email == "li.na@ops.example")
        ).scalar_one()
    admin.get("/ops/staff")
    answer = admin.post(f"/ops/staff/{reviewer_id}", {"action": "disable"})
    assert answer.status_code == 303
    assert reviewer.get("/ops/claims").status_code == 302
    assert reviewer.login("li.na@ops.example").status_code == 401
    # Enabling the account again does not bring its old sessions back.
    cookie = reviewer.client.get_cookie("ps_ops_session", path="/ops")
    assert admin.post(f"/ops/staff/{reviewer_id}", {"action": "enable"}).status_code == 303
    copy = app.test_client()
    assert cookie is not None
    copy.set_cookie("ps_ops_session", cookie.value, path="/ops")
    assert copy.get("/ops/claims").status_code == 302
    assert admin.post(f"/ops/staff/{reviewer_id}", {"action": "explode"}).status_code == 400


def test_a_login_ends_after_session_hours_however_often_it_is_used(
    app: Flask, engine: sa.Engine
) -> None:
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    assert console.get("/ops/?lang=en").status_code == 200
    with console.client.session_transaction(path="/ops/") as session:
        started = datetime.fromisoformat(session["started"])
        session["started"] = (started - timedelta(hours=10, minutes=1)).isoformat()
    assert console.get("/ops/?lang=zh").status_code == 302
    # An htmx request is sent to the login page as a whole, not swapped into the results.
    answer = console.client.get("/ops/claims", headers={"HX-Request": "true"})
    assert answer.status_code == 204 and answer.headers["HX-Redirect"].startswith("/ops/login")


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    app: Flask, engine: sa.Engine, api: ApiClient
) -> None:
    claim_id = filed_flight_claim(api, 1, "100.00")
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    console.get(f"/ops/claims/{claim_id}")
    url = f"/ops/claims/{claim_id}/approve"
    missing = console.post(url, {"amount": "100.00"}, csrf=False)
    wrong = console.post(url, {"amount": "100.00", "csrf_token": "forged"}, csrf=False)
    for answer in (missing, wrong):
        assert answer.status_code == 400
        assert "did not come from this console" in _text(answer)
    assert _status(engine, claim_id) == "in_review"
    # Another session's token does not work either.
    other = logged_in(app, engine, "wang.wei@ops.example", "reviewer")
    other.get("/ops/")
    forged = console.post(url, {"amount": "100.00", "csrf_token": other.token}, csrf=False)
    assert forged.status_code == 400
    # htmx sends the token as a header.
    answer = console.client.post(
        f"/ops/claims/{claim_id}/approve", headers={"X-CSRF-Token": console.token}
    )
    assert answer.status_code == 303 and _status(engine, claim_id) == "paid"


# -- roles -------------------------------------------------------------------------------


def test_only_admins_manage_staff(app: Flask, engine: sa.Engine) -> None:
    reviewer = logged_in(app, engine, "li.na@ops.example", "reviewer")
    assert reviewer.get("/ops/staff").status_code == 403
    reviewer.get("/ops/")
    body = {"email": "new@ops.example", "role": "admin", "password": "x" * 14}
    assert reviewer.post("/ops/staff", body).status_code == 403
    assert "/ops/staff" not in _text(reviewer.get("/ops/"))

    admin = logged_in(app, engine, "boss@ops.example", "admin")
    admin.get("/ops/staff")
    assert admin.post("/ops/staff", body).status_code == 303
    assert logged_in_as(app, "new@ops.example", "x" * 14)
    short = admin.post("/ops/staff", {**body, "email": "b@ops.example", "password": "short"})
    assert short.status_code == 400 and "password: must be at least 12" in _text(short)
    with engine.connect() as conn:
        me = conn.execute(
            sa.select(staff.c.id).where(staff.c.email == "boss@ops.example")
        ).scalar_one()
    demote = admin.post(f"/ops/staff/{me}", {"action": "role", "role": "reviewer"})
    assert demote.status_code == 422 and "cannot disable or demote your own" in _text(demote)


def logged_in_as(app: Flask, email: str, password: str) -> bool:
    return Console(app).login(email, password).status_code == 303


def test_a_reviewer_above_the_limit_only_records_a_first_approval(
    app: Flask, engine: sa.Engine, api: ApiClient
) -> None:
    claim_id = filed_flight_claim(api, 1, "250.00")
    reviewer = logged_in(app, engine, "li.na@ops.example", "reviewer")
    reviewer.get(f"/ops/claims/{claim_id}")
    assert reviewer.post(f"/ops/claims/{claim_id}/approve", {"reason": "ok"}).status_code == 303
    page = _text(reviewer.get(f"/ops/claims/{claim_id}"))
    assert "First approval by li.na@ops.example: CN¥250.00, waiting for a second" in page
    other = logged_in(app, engine, "wang.wei@ops.example", "reviewer")
    other.get(f"/ops/claims/{claim_id}")
    refused = other.post(f"/ops/claims/{claim_id}/approve", {"reason": "ok"})
    assert refused.status_code == 403 and "needs the approver role" in _text(refused)
    assert _status(engine, claim_id) == "in_review"
    approver = logged_in(app, engine, "zhao.min@ops.example", "approver")
    approver.get(f"/ops/claims/{claim_id}")
    assert approver.post(f"/ops/claims/{claim_id}/approve", {}).status_code == 303
    assert _status(engine, claim_id) == "paid"


@pytest.mark.parametrize(
    ("path", "form", "status", "message"),
    [
        ("approve", {"amount": "80.00"}, 400, "reason: say why the amount differs"),
        ("approve", {"amount": "1,00"}, 400, "amount.amount:"),
        ("approve", {"amount": "0.001", "reason": "x"}, 400, "has more decimals than CNY"),
        ("approve", {"amount": "9000.00", "reason": "x"}, 422, "is more than the policy"),
        ("reject", {"reject_code": "because", "reason": "x"}, 400, "reject_code: must be one of"),
        ("reject", {"reject_code": "duplicate"}, 400, "reason: is required"),
        ("request-info", {"reason": ""}, 400, "reason: is required"),
        ("retry-payout", {}, 409, ""),
    ],
)
def test_a_bad_decision_shows_why_and_changes_nothing(
    app: Flask,
    engine: sa.Engine,
    api: ApiClient,
    path: str,
    form: dict[str, str],
    status: int,
    message: str,
) -> None:
    claim_id = filed_flight_claim(api, 1, "100.00")
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    console.get(f"/ops/claims/{claim_id}")
    answer = console.post(f"/ops/claims/{claim_id}/{path}", form)
    assert answer.status_code == status
    assert 'class="flash error"' in _text(answer) and message in _text(answer)
    assert _status(engine, claim_id) == "in_review"
    with engine.connect() as conn:
        audit = conn.execute(sa.text("select count(*) from claim_audit")).scalar()
    assert audit == 2  # submit and refer, nothing more


def test_reject_and_request_info_from_the_claim_page(
    app: Flask, engine: sa.Engine, api: ApiClient
) -> None:
    first = filed_flight_claim(api, 1, "100.00")
    second = filed_flight_claim(api, 2, "100.00")
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    console.get(f"/ops/claims/{first}")
    answer = console.post(f"/ops/claims/{first}/request-info", {"reason": "the airline letter"})
    assert answer.status_code == 303
    assert "Information requested" in _text(console.get("/ops/claims"))
    console.get(f"/ops/claims/{second}")
    answer = console.post(
        f"/ops/claims/{second}/reject", {"reject_code": "duplicate", "reason": "paid on trip-1"}
    )
    assert answer.status_code == 303 and _status(engine, second) == "rejected"
    _, partner_view = api.get(f"/v1/claims/{second}")
    assert partner_view["status"] == "rejected"


# -- the queue --------------------------------------------------------------------------------


def test_queue_filters_counts_and_the_api_agree(
    app: Flask, engine: sa.Engine, clock: Clock
) -> None:
    ids = seed_review_work(seed_book(app, engine, clock, days=2), clock)
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")

    def listed(query: str) -> list[str]:
        page = _text(console.get(f"/ops/claims{query}"))
        return re.findall(r'<tr data-claim="([^"]+)"', page)

    everything = listed("")
    assert everything == [ids["reused"], ids["dear"], ids["filed_100"], ids["filed_250"]]
    assert listed("?signal=evidence_reused") == [ids["reused"]]
    assert listed("?product=flight_delay&amount_min=200") == [ids["filed_250"]]
    assert listed("?amount_min=18&amount_max=100") == [ids["reused"], ids["dear"], ids["filed_100"]]
    assert listed("?mode=test") == []
    page = _text(console.get("/ops/claims?product=flight_delay"))
    assert "<strong>2</strong> claims match" in page
    # Each option counts the claims it would show, under the other filters.
    assert re.search(r"return_shipping \(2\)</option>", page)
    assert re.search(r"filed claim \(2\)</option>", page)
    # A page after a claim that has left the queue meanwhile goes on from where it was.
    token_reviewer = Bearer(app.test_client(), staff_token(engine, "r@ops.example", "reviewer"))
    status, _ = token_reviewer.post(
        f"/v1/ops/claims/{ids['dear']}/reject", {"reject_code": "other", "reason": "test"}
    )
    assert status == 200
    assert listed(f"?starting_after={ids['dear']}") == [ids["filed_100"], ids["filed_250"]]
    assert console.get("/ops/claims?starting_after=clm_nope").status_code == 404
    # Bounds round inwards: 100.004 is more than 100.00.
    assert ids["filed_100"] not in listed("?amount_min=100.004")
    assert ids["filed_100"] not in listed("?amount_max=99.996")
    bad = console.get("/ops/claims?amount_min=lots")
    assert bad.status_code == 400 and "amount_min:" in _text(bad)

    token = Bearer(app.test_client(), staff_token(engine, "api@ops.example", "reviewer"))
    status, body = token.get("/v1/ops/claims", product="flight_delay", amount_min="200")
    assert status == 200 and [c["id"] for c in body["data"]] == [ids["filed_250"]]
    status, body = token.get("/v1/ops/claims", signal="no_such_signal")
    assert status == 400 and body["error"]["param"] == "signal"


def test_odd_evidence_from_a_partner_still_shows(
    app: Flask, engine: sa.Engine, api: ApiClient
) -> None:
    _, policy = api.post(
        "/v1/policies",
        flight_policy("trip-odd", holder=passenger(resident_id(5)), scheduled_departure=DEPARTURE),
    )
    status, claim = api.post(
        "/v1/claims",
        {
            "policy": policy["id"],
            "type": "delay_120",
            "description": "odd receipt",
            "evidence": {"receipt": {"amount": "n/a", "currency": "CNY"}, "lines": [1, None]},
        },
    )
    assert status == 201, claim
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    page = console.get(f"/ops/claims/{claim['id']}")
    assert page.status_code == 200 and "n/a CNY" in _text(page)


def test_names_from_partners_are_escaped(app: Flask, engine: sa.Engine) -> None:
    partner_id, key = make_partner(engine, '<script>alert("x")</script>')
    claim_id = filed_flight_claim(ApiClient(app.test_client(), key, partner_id), 1, "100.00")
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    for path in ("/ops/claims", f"/ops/claims/{claim_id}"):
        page = _text(console.get(path))
        assert "<script>alert" not in page and "&lt;script&gt;alert" in page


# -- claim page, attachments, policies ---------------------------------------------------


def test_the_claim_page_shows_the_trigger_the_rules_and_related_claims(
    app: Flask, engine: sa.Engine, clock: Clock
) -> None:
    ids = seed_review_work(seed_book(app, engine, clock, days=1), clock)
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    page = _text(console.get(f"/ops/claims/{ids['reused']}"))
    assert "yt9988776655" in page  # the trigger as the provider posted it
    assert "min(shipping_cost, 25.00)" in page  # the payout rule that held
    assert "is also the evidence of 1 other claim" in page  # the signal's reason
    related = re.search(r'id="related".*?</section>', page, re.S)
    assert related and related.group(0).count("/ops/claims/clm_") == 1
    assert "Premium worksheet" in page and "factor · category" in page
    assert console.get("/ops/claims/clm_nope").status_code == 404


def test_attachments_download_as_files_never_as_pages(
    app: Flask, engine: sa.Engine, api: ApiClient
) -> None:
    claim_id = filed_flight_claim(api, 1, "100.00")
    upload = app.test_client().post(
        f"/v1/claims/{claim_id}/attachments",
        data={"file": (io.BytesIO(b"<html>letter</html>"), "letter.html", "text/html")},
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert upload.status_code == 201
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    page = _text(console.get(f"/ops/claims/{claim_id}"))
    link = re.search(r'href="(/ops/claims/[^"]+/attachments/[^"]+)"', page)
    assert link
    answer = console.get(link[1])
    answer.close()  # the file is streamed
    assert answer.data == b"<html>letter</html>"
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert answer.headers["Content-Security-Policy"] == "sandbox"
    assert Console(app).get(link[1]).status_code == 302  # not without a login


def test_policy_search_and_the_policy_page(app: Flask, engine: sa.Engine, clock: Clock) -> None:
    book = seed_book(app, engine, clock, days=3)
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")

    def found(query: str) -> list[str]:
        return re.findall(r'href="/ops/policies/(pol_[^"]+)"', _text(console.get(query)))

    assert len(found("/ops/policies?external_ref=trip-1")) == 1
    assert len(found(f"/ops/policies?partner={book.flights.partner_id}")) == 4 + 5 + 6
    assert len(found(f"/ops/policies?partner={book.shop.partner_id}")) == 0
    assert len(found("/ops/policies?date_from=2026-11-26&date_to=2026-11-26")) == 5
    assert found("/ops/policies?status=cancelled") == []
    for query, message in (
        ("date_from=26.11.2026", "date_from: must be a date"),
        ("date_to=9999-12-31", "date_to: must be a date between"),
        ("date_from=0001-01-01", "date_from: must be a date between"),
        ("id=pol_%00", "contains a NUL"),
    ):
        bad = console.get(f"/ops/policies?{query}")
        assert bad.status_code == 400 and message in _text(bad), query

    (policy_id,) = found("/ops/policies?external_ref=trip-1")
    page = _text(console.get(f"/ops/policies/{policy_id}"))
    assert "policy.issued" in page and "claim.paid" in page  # day 0's flight was 250 min late
    assert "not delivered to any endpoint" in page
    assert console.get("/ops/policies/pol_nope").status_code == 404


def test_the_policy_page_shows_its_endorsements(
    app: Flask, engine: sa.Engine, api: ApiClient, clock: Clock
) -> None:
    from ..endorsement_helpers import MOVED, changes, issue

    policy = issue(api, clock)
    risk_after, _, _ = changes()
    body = {"risk": {k: risk_after[k] for k in MOVED}}
    status, endorsed = api.post(f"/v1/policies/{policy['id']}/endorsements", body)
    assert status == 201, endorsed
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    page = _text(console.get(f"/ops/policies/{policy['id']}"))
    section = page[page.index('id="endorsements"') : page.index('id="events"')]
    assert endorsed["id"] in section
    for name in MOVED:
        assert f"risk.{name}" in section
    assert "policy.endorsed" in page
    chinese = _text(console.get(f"/ops/policies/{policy['id']}?lang=zh"))
    assert "批改记录" in chinese and "保费差额" in chinese


# -- dashboard and languages -----------------------------------------------------------------


def test_the_dashboard_counts_what_the_book_holds(
    app: Flask, engine: sa.Engine, clock: Clock
) -> None:
    seed_book(app, engine, clock, days=3)
    d = dashboard(SqlUnitOfWork(engine), clock(), "Asia/Shanghai", livemode=True, days=30)
    sold = {day.day.isoformat(): day.policies for day in d.days if day.policies}
    assert sold == {"2026-11-25": 4, "2026-11-26": 5, "2026-11-27": 6}
    # The reported delays paid some flights automatically; nothing went to a person.
    with engine.connect() as conn:
        paid = conn.execute(
            sa.select(sa.func.count(), sa.func.sum(claims.c.amount_paid)).where(
                claims.c.status == "paid"
            )
        ).one()
    (flight,) = [r for r in d.loss_ratios if r.product == "flight_delay"]
    assert flight.claims_paid == paid[0] and flight.paid * 100 == paid[1]
    assert d.decided_auto == paid[0] and d.decided_staff == 0
    assert flight.earned > 0 and flight.ratio == flight.paid / flight.earned
    assert d.in_review == 0
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    page = _text(console.get("/ops/"))
    assert page.count("<svg") == 5 and "Loss ratio per product and edition" in page


def test_chinese_labels_and_cny_for_the_locale(
    app: Flask, engine: sa.Engine, api: ApiClient
) -> None:
    filed_flight_claim(api, 1, "250.00")
    console = logged_in(app, engine, "li.na@ops.example", "reviewer")
    english = _text(console.get("/ops/claims"))
    assert "Claims queue" in english and "CN¥250.00" in english
    chinese = _text(console.get("/ops/claims?lang=zh"))
    assert "理赔审核队列" in chinese and "¥250.00" in chinese and "CN¥" not in chinese
    assert "理赔审核队列" in _text(console.get("/ops/claims"))  # the choice is remembered
    fresh = Console(app)
    page = fresh.get("/ops/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "登录" in _text(page)


def test_staff_accounts_from_the_command_line(
    app: Flask, engine: sa.Engine, db_url: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from policy_service.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    runner = CliRunner()
    made = runner.invoke(
        main,
        ["staff", "create", "Li.Na@ops.example", "--role", "reviewer", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert made.exit_code == 0 and "li.na@ops.example (reviewer)" in made.output
    console = Console(app)
    assert console.login("li.na@ops.example").status_code == 303
    console.get("/ops/")
    short = runner.invoke(
        main, ["staff", "password", "li.na@ops.example", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1 and "password: must be at least 12" in short.output
    reset = runner.invoke(
        main,
        ["staff", "password", "li.na@ops.example", "--password-stdin"],
        input="a brand new passphrase\n",
    )
    assert reset.exit_code == 0
    assert console.get("/ops/").status_code == 302  # a new password ends the sessions
    assert console.login("li.na@ops.example").status_code == 401
    assert console.login("li.na@ops.example", "a brand new passphrase").status_code == 303


def test_a_refunded_policy_earns_nothing_and_never_less(
    app: Flask, engine: sa.Engine, clock: Clock
) -> None:
    partner_id, key = make_partner(engine, "Skyway Travel", live=True)
    live = ApiClient(app.test_client(), key, partner_id)
    kept = [
        live.post("/v1/policies", flight_policy(f"b-{n}", holder=passenger(resident_id(n))))[1][
            "id"
        ]
        for n in range(2)
    ]
    status, _ = live.post(f"/v1/policies/{kept[0]}/cancel", {"reason": "requested_by_customer"})
    assert status == 200
    clock.advance(days=800)  # the other cover has ended: fully earned
    d = dashboard(SqlUnitOfWork(engine), clock(), "Asia/Shanghai", livemode=True)
    (row,) = d.loss_ratios
    _, other = live.get(f"/v1/policies/{kept[1]}")
    premium = other["premium"]
    assert str(row.earned) == str(
        Decimal(premium["total"]["amount"]) - Decimal(premium["tax"]["amount"])
    )


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_clients(
    config: Config, engine: sa.Engine, clock: Clock
) -> None:
    app = create_app(config.with_(login_rate_per_ip="2/minute", trusted_proxies=1), clock=clock)
    add_staff(engine, "li.na@ops.example", "reviewer")
    guesser, colleague = Console(app), Console(app)
    guesser.client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
    colleague.client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.2"
    for _ in range(2):
        assert guesser.login("who@x.example", "guess").status_code == 401
    assert guesser.login("li.na@ops.example").status_code == 429
    # the same proxy, another client: its own count
    assert colleague.login("li.na@ops.example").status_code == 303
    app.extensions["policy_service"].dispose()
