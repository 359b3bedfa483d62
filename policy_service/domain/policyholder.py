"""Policyholder data: validated, and kept minimal (the ID number only as a keyed hash + last 4)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from .errors import InvalidRequest

ID_TYPES = ("cn_resident_id", "passport")

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
# [0-9], not \d: full-width digits would give the same person a second hash.
_RESIDENT_RE = re.compile(r"[0-9]{17}[0-9X]")
_PASSPORT_RE = re.compile(r"[A-Z0-9]{5,20}")
_PHONE_RE = re.compile(r"\+?[0-9]{6,15}")


def resident_id_valid(number: str) -> bool:
    """GB 11643-1999: 17 digits, a valid birth date, and the ISO 7064 MOD 11-2 check character."""
    if not _RESIDENT_RE.fullmatch(number):
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > date.today():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    return _CHECK[total % 11] == number[17]


@dataclass(frozen=True)
class Policyholder:
    name: str
    id_type: str
    id_hash: str  # HMAC-SHA256 of type + number, hex
    id_last4: str
    phone: str | None

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id_type": self.id_type,
            "id_last4": self.id_last4,
            "phone": self.phone,
        }


def parse_policyholder(raw: Any, hash_key: bytes, param: str = "policyholder") -> Policyholder:
    """Validate a policyholder object. Error messages never echo the ID number."""
    if not isinstance(raw, dict):
        raise InvalidRequest("must be an object with name, id_type and id_number", param=param)
    unknown = set(raw) - {"name", "id_type", "id_number", "phone"}
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidRequest("is not a policyholder field", param=f"{param}.{field}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise InvalidRequest("is required (1 to 100 characters)", param=f"{param}.name")
    id_type = raw.get("id_type")
    if id_type not in ID_TYPES:
        raise InvalidRequest(f"must be one of: {', '.join(ID_TYPES)}", param=f"{param}.id_type")
    number = raw.get("id_number")
    if not isinstance(number, str) or not number.strip():
        raise InvalidRequest("is required", param=f"{param}.id_number")
    number = number.strip().upper()
    if id_type == "cn_resident_id":
        if not resident_id_valid(number):
            raise InvalidRequest(
                "is not a valid resident ID number (18 characters, birth date and check digit)",
                param=f"{param}.id_number",
                code="invalid_id_number",
            )
    elif not _PASSPORT_RE.fullmatch(number):
        raise InvalidRequest(
            "is not a valid passport number (5 to 20 letters and digits)",
            param=f"{param}.id_number",
            code="invalid_id_number",
        )
    phone = raw.get("phone")
    if phone is not None and (not isinstance(phone, str) or not _PHONE_RE.fullmatch(phone)):
        raise InvalidRequest("must be digits with an optional leading +", param=f"{param}.phone")
    digest = hmac.new(hash_key, f"{id_type}:{number}".encode(), hashlib.sha256).hexdigest()
    return Policyholder(name.strip(), id_type, digest, number[-4:], phone)


def parse_contact_change(
    raw: Any, allowed: tuple[str, ...], param: str = "policyholder"
) -> dict[str, Any]:
    """The policyholder details an endorsement changes ({name?, phone?}), each of them
    among `allowed`; a phone may be removed (null). The ID never changes: it is who is
    insured."""
    if not isinstance(raw, dict) or not raw:
        raise InvalidRequest("must be an object with the details to change", param=param)
    for field in sorted(raw):
        if field not in allowed:
            why = "cannot change" if field in ("id_type", "id_number") else "is not changeable"
            may = ", ".join(allowed) or "nothing"
            raise InvalidRequest(
                f"{why}; this product lets change: {may}", param=f"{param}.{field}"
            )
    out: dict[str, Any] = {}
    if "name" in raw:
        name = raw["name"]
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
            raise InvalidRequest("must be 1 to 100 characters", param=f"{param}.name")
        out["name"] = name.strip()
    if "phone" in raw:
        phone = raw["phone"]
        if phone is not None and (not isinstance(phone, str) or not _PHONE_RE.fullmatch(phone)):
            raise InvalidRequest(
                "must be digits with an optional leading +", param=f"{param}.phone"
            )
        out["phone"] = phone
    return out


@dataclass(frozen=True)
class HolderMatch:
    """Who a policy search looks for: any of these ID hashes (the number is never kept,
    so it is matched through its keyed hash), a phone, a name; each optional."""

    id_hashes: tuple[str, ...] | None = None
    phone: str | None = None
    name: str | None = None


def holder_match(
    hash_key: bytes,
    id_number: str | None = None,
    id_type: str | None = None,
    phone: str | None = None,
    name: str | None = None,
) -> HolderMatch | None:
    """The search for a person, from what a customer-service agent has in hand (an ID
    card, a phone, a name); None when nothing was given. Without id_type, the number is
    looked for as every ID type."""
    if id_type is not None and id_type not in ID_TYPES:
        raise InvalidRequest(f"must be one of: {', '.join(ID_TYPES)}", param="policyholder_id_type")
    hashes = None
    if id_number is not None:
        number = id_number.strip().upper()
        if not number:
            raise InvalidRequest("must not be empty", param="policyholder_id_number")
        types = (id_type,) if id_type else ID_TYPES
        hashes = tuple(
            hmac.new(hash_key, f"{t}:{number}".encode(), hashlib.sha256).hexdigest() for t in types
        )
    elif id_type is not None:
        raise InvalidRequest("goes with policyholder_id_number", param="policyholder_id_type")
    if phone is not None and not _PHONE_RE.fullmatch(phone):
        raise InvalidRequest(
            "must be digits with an optional leading +", param="policyholder_phone"
        )
    if name is not None and (not name.strip() or len(name.strip()) > 100):
        raise InvalidRequest("must be 1 to 100 characters", param="policyholder_name")
    if hashes is None and phone is None and name is None:
        return None
    return HolderMatch(hashes, phone, name.strip() if name is not None else None)
