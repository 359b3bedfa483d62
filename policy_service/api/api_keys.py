"""A partner's API keys, managed with a keys:admin key of the same mode: list, create with
scopes, revoke, rotate with an overlap. The secret is in the answer to create and rotate
only (never in an Idempotency-Key's record)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from policy_service.presentation import render
from policy_service.services import api_keys
from policy_service.services.unit_of_work import Tx

from .context import caller, services
from .docs import IDEMPOTENCY_PARAM, errors
from .idempotency import ok, run_idempotent
from .schemas.keys import ApiKeyCreateSchema, ApiKeyListSchema, ApiKeyRotateSchema, ApiKeySchema

blp = Blueprint("api_keys", __name__, url_prefix="/v1/api-keys", description="API keys")


@blp.route("")
class Keys(MethodView):
    @blp.response(200, ApiKeyListSchema)
    @errors(blp, 403)
    def get(self) -> Response:
        """The partner's keys in this mode (hints, never secrets)"""
        who = caller("keys:admin")
        svc = services()
        keys = api_keys.list_keys(svc.uow, who.partner_id, who.livemode)
        now = svc.clock()
        return ok(render.page([render.api_key(k, now) for k in keys], False, "/v1/api-keys"))

    @blp.arguments(ApiKeyCreateSchema())
    @blp.response(201, ApiKeySchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 403)
    def post(self, body: dict[str, Any]) -> Response:
        """Create a key in this mode with these scopes; the answer carries it, this once"""
        who = caller("keys:admin")
        svc = services()

        def work(tx: Tx) -> tuple[int, dict[str, Any]]:
            key, secret = api_keys.create_key(
                tx, who.partner_id, who.livemode, body.get("scopes"), svc.clock()
            )
            return 201, {**render.api_key(key, svc.clock()), "secret": secret}

        return run_idempotent(who, work, stored_as=render.without_secret)


@blp.route("/<key_id>/revoke")
class Revoke(MethodView):
    @blp.response(200, ApiKeySchema)
    @errors(blp, 403, 404)
    def post(self, key_id: str) -> Response:
        """Revoke a key now: every process refuses it within API_KEY_CACHE_SECONDS (1 s)"""
        who = caller("keys:admin")
        svc = services()
        key = api_keys.revoke_key(svc.uow, who.partner_id, key_id, svc.clock(), who.livemode)
        return ok(render.api_key(key, svc.clock()))


@blp.route("/<key_id>/rotate")
class Rotate(MethodView):
    @blp.arguments(ApiKeyRotateSchema())
    @blp.response(201, ApiKeySchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAM])
    @errors(blp, 400, 403, 404, 409)
    def post(self, body: dict[str, Any], key_id: str) -> Response:
        """A new key with the same scopes; the old one keeps working overlap_hours (24)"""
        who = caller("keys:admin")
        svc = services()

        def work(tx: Tx) -> tuple[int, dict[str, Any]]:
            new, secret = api_keys.rotate_key(
                tx,
                who.partner_id,
                key_id,
                timedelta(hours=body["overlap_hours"]),
                svc.clock(),
                who.livemode,
            )
            return 201, {**render.api_key(new, svc.clock()), "secret": secret}

        return run_idempotent(who, work, stored_as=render.without_secret)
