"""Settlement statements (bordereaux) per month, as JSON or CSV."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.presentation import render
from policy_service.services import statements

from .context import caller, services
from .docs import errors
from .idempotency import ok
from .schemas import StatementArgsSchema, StatementFormatSchema, StatementSchema

blp = Blueprint(
    "statements", __name__, url_prefix="/v1/statements", description="Settlement statements"
)


def _answer(st: statements.Statement, livemode: bool, fmt: str) -> Response:
    if fmt == "csv":
        name = f"statement-{st.period}{'-' + st.id if st.id else '-open'}.csv"
        return Response(
            render.statement_csv(st),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return ok(render.statement(st, livemode))


@blp.route("")
class Statements(MethodView):
    @blp.arguments(StatementArgsSchema(), location="query")
    @blp.response(200, StatementSchema)
    @errors(blp, 400, 403)
    def get(self, args: dict[str, Any]) -> Response:
        """The statement of a month (?period=YYYY-MM): closed once the month has ended (and
        then never changes), a live preview while it is open; ?format=csv for a CSV file.
        Without a period: the list of months, the open one first, then every closed
        statement with its totals."""
        who = caller("statements:read")
        svc = services()
        if "period" not in args:
            months = statements.list_statements(
                svc.uow, who, svc.clock(), svc.config.settlement_timezone
            )
            data = [render.statement_summary(m, who.livemode) for m in months]
            return ok(render.page(data, False, "/v1/statements"))
        st = statements.statement_for(
            svc.uow, who, args["period"], svc.clock(), svc.config.settlement_timezone
        )
        return _answer(st, who.livemode, args["format"])


@blp.route("/<statement_id>")
class StatementById(MethodView):
    @blp.arguments(StatementFormatSchema(), location="query")
    @blp.response(200, StatementSchema)
    @errors(blp, 403, 404)
    def get(self, args: dict[str, Any], statement_id: str) -> Response:
        """A closed statement, as JSON or (?format=csv) CSV"""
        who = caller("statements:read")
        st = statements.load(services().uow, who, statement_id)
        return _answer(st, who.livemode, args["format"])
