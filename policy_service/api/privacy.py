"""Privacy requests: a copy of what is held about a person, and its erasure. The ID number
travels in the body (never in a URL), and no answer is kept under an Idempotency-Key (an
export would then be a second copy of the person)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.presentation.endorsements import privacy_export
from policy_service.services import privacy

from .context import caller, services
from .docs import errors
from .idempotency import ok
from .schemas import PrivacyErasureSchema, PrivacyExportSchema, PrivacyRequestSchema

blp = Blueprint(
    "privacy", __name__, url_prefix="/v1/privacy", description="Privacy requests (PIPL, GDPR)"
)


@blp.route("/exports")
class PrivacyExports(MethodView):
    @blp.arguments(PrivacyRequestSchema())
    @blp.response(200, PrivacyExportSchema)
    @errors(blp, 400, 403)
    def post(self, body: dict[str, Any]) -> Response:
        """Everything this partner holds about a person, found by their ID number: policies,
        claims and endorsements (the ID itself only as its last 4). The request is recorded,
        without the person."""
        who = caller("privacy:write")
        svc = services()
        held = privacy.export(
            svc.uow,
            svc.config.pii_hash_key,
            body["id_number"],
            body.get("id_type"),
            who,
            svc.clock(),
        )
        return ok(privacy_export(held, svc.render_policy, svc.clock()))


@blp.route("/erasures")
class PrivacyErasures(MethodView):
    @blp.arguments(PrivacyRequestSchema())
    @blp.response(200, PrivacyErasureSchema)
    @errors(blp, 400, 403, 404)
    def post(self, body: dict[str, Any]) -> Response:
        """Erase a person from this partner's policies: name, phone, ID hash and last 4, the
        free text, evidence and attachments of their claims, every copy of their policy's
        JSON. Money and ids stay (policies, ledger, statements, audit). A policy in force or
        with an open claim is kept, with the reason. Asked again: 404 (nothing names the
        person any more)."""
        who = caller("privacy:write")
        svc = services()
        done = privacy.erase(
            svc.uow,
            svc.claims().files,
            svc.config.pii_hash_key,
            body["id_number"],
            body.get("id_type"),
            who,
            svc.clock(),
        )
        return ok({"object": "privacy_erasure", "erased": done.erased, "kept": done.kept})
