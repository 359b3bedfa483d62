"""Claims: file one (cases no trigger covers), read, list, attach files."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.domain.errors import InvalidRequest
from policy_service.presentation import render
from policy_service.services import attachments, claim_filing, claim_queries
from policy_service.services.unit_of_work import Tx

from .context import caller, services
from .docs import IDEMPOTENCY_PARAM, errors
from .idempotency import ok, run_idempotent
from .schemas import (
    AttachmentSchema,
    AttachmentUploadSchema,
    ClaimListArgsSchema,
    ClaimListSchema,
    ClaimRequestSchema,
    ClaimSchema,
)

blp = Blueprint("claims", __name__, url_prefix="/v1/claims", description="Claims")


@blp.route("")
class Claims(MethodView):
    @blp.arguments(ClaimRequestSchema())
    @blp.response(201, ClaimSchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 403, 404, 409, 413, 422)
    def post(self, body: dict[str, Any]) -> Response:
        """File a claim no trigger covers; people review it (status in_review)"""
        who = caller("claims:write")
        svc = services()
        now = svc.clock()

        def work(tx: Tx) -> tuple[int, dict[str, Any]]:
            claim = claim_filing.file_claim(svc.claims(), tx, who, body, now)
            return 201, render.claim(claim)

        return run_idempotent(who, work)

    @blp.arguments(ClaimListArgsSchema(), location="query")
    @blp.response(200, ClaimListSchema)
    @errors(blp, 400, 403)
    def get(self, args: dict[str, Any]) -> Response:
        """Claims, newest first; filter by policy, status, and the trigger event that decided
        them (an incident: every claim one flight's report paid)"""
        who = caller("claims:read")
        found, more = claim_queries.list_claims(
            services().uow,
            who,
            args["limit"],
            args.get("starting_after"),
            args.get("policy"),
            args.get("status"),
            args.get("trigger_event"),
        )
        return ok(render.page([render.claim(c) for c in found], more, "/v1/claims"))


@blp.route("/<claim_id>")
class ClaimById(MethodView):
    @blp.response(200, ClaimSchema)
    @errors(blp, 403, 404)
    def get(self, claim_id: str) -> Response:
        """A claim with its explanation: trigger data, rule and edition, values compared"""
        who = caller("claims:read")
        claim, files = claim_queries.claim_with_attachments(services().uow, who, claim_id)
        return ok({**render.claim(claim), "attachments": [render.attachment(f) for f in files]})


@blp.route("/<claim_id>/attachments")
class ClaimAttachments(MethodView):
    @blp.arguments(AttachmentUploadSchema(), location="files")
    @blp.response(201, AttachmentSchema)
    @errors(blp, 400, 403, 404, 409, 413)
    def post(self, files: dict[str, Any], claim_id: str) -> Response:
        """Attach a file (multipart/form-data, field `file`); a claim waiting for
        information goes back to its reviewers. Limit: ATTACHMENT_MAX_BYTES."""
        who = caller("claims:write")
        svc = services()
        upload = files.get("file")
        if upload is None:
            raise InvalidRequest("send the file as multipart/form-data field `file`", param="file")
        try:
            data = upload.stream.read(svc.config.attachment_max_bytes + 1)
        finally:
            upload.close()  # a large upload is spooled to a temporary file
        row = attachments.add_attachment(
            svc.claims(), who, claim_id, upload.filename, upload.mimetype, data, svc.clock()
        )
        return ok(render.attachment(SimpleNamespace(**row)), 201)
