"""Files a partner attaches to a claim: kept once per sha256 under ATTACHMENTS_DIR; a claim
waiting for information goes back to its reviewers."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from policy_service.domain.claims import (
    OPEN_STATUSES,
)
from policy_service.domain.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
)
from policy_service.domain.ids import new_id
from policy_service.domain.records import Caller

from .claim_queries import claim_of
from .claims import Actor, Changes, ClaimsContext, audit_row, transition
from .unit_of_work import Tx

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._\-\u4e00-\u9fff ]")


_CONTENT_TYPE = re.compile(r"^[a-z0-9.+-]+/[a-z0-9.+-]+$")


def add_attachment(
    ctx: ClaimsContext,
    caller: Caller,
    claim_id: str,
    file_name: Any,
    content_type: Any,
    data: bytes,
    now: datetime,
) -> dict[str, Any]:
    """Store a file for a claim (by its sha256; the same bytes are kept once)."""
    with ctx.uow.write() as tx:
        return _add_attachment(ctx, tx, caller, claim_id, file_name, content_type, data, now)


def _add_attachment(
    ctx: ClaimsContext,
    tx: Tx,
    caller: Caller,
    claim_id: str,
    file_name: Any,
    content_type: Any,
    data: bytes,
    now: datetime,
) -> dict[str, Any]:
    claim = claim_of(tx, caller, claim_id, for_update=True)
    if not isinstance(file_name, str) or not file_name.strip() or len(file_name) > 255:
        raise InvalidRequest("a file name of 1 to 255 characters is required", param="file")
    ctype = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if not _CONTENT_TYPE.match(ctype):
        raise InvalidRequest("is not a media type such as image/jpeg", param="content_type")
    if len(data) > ctx.attachment_max_bytes:
        raise PayloadTooLarge(
            f"an attachment may be at most {ctx.attachment_max_bytes} bytes", param="file"
        )
    if not data:
        raise InvalidRequest("the file is empty", param="file")
    digest = ctx.files.put(data)
    row = {
        "id": new_id("att"),
        "claim_id": claim.id,
        "partner_id": claim.partner_id,
        "file_name": _SAFE_NAME.sub("_", file_name.strip()),
        "content_type": ctype,
        "size": len(data),
        "sha256": digest,
        "created_at": now,
    }
    tx.claims.insert_attachment(row)
    changes = Changes.empty()
    if claim.status in OPEN_STATUSES:
        after = transition(
            ctx,
            changes,
            claim,
            "add_information",
            Actor("partner", caller.partner_id),
            now,
            # not the file's name: it may name the person, and the audit is never rewritten
            f"attachment {row['id']} ({len(data)} bytes, sha256 {digest[:12]}...)",
            info_requested_at=None,
        )
        if not tx.claims.update(after, claim.status):
            raise Conflict("the claim changed meanwhile; retry", code="concurrent_update")
    else:
        changes.audit.append(
            audit_row(
                claim,
                Actor("partner", caller.partner_id),
                "attach",
                now,
                None,
                str(row["file_name"]),
            )
        )
    changes.write(tx)
    return row


def attachment_file(ctx: ClaimsContext, claim_id: str, attachment_id: str) -> tuple[Any, Path]:
    """An attachment's row and the file holding its bytes (the ops console downloads it)."""
    with ctx.uow.read() as tx:
        row = tx.claims.attachment(claim_id, attachment_id)
    path = ctx.files.path(row.sha256) if row is not None else None
    if row is None or path is None or not path.is_file():
        raise NotFound(f"no attachment {attachment_id} on claim {claim_id}")
    return row, path
