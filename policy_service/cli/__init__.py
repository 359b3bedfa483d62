"""The `policy-service` command: run (serve, worker, db, openapi), admin (partners,
providers, staff), privacy (export, erase, retention), export (the book as Parquet), products (the actuaries' tools)
and reports (calibration; impact, experience). Each command builds what it needs with bootstrap()."""

from __future__ import annotations

from . import (  # noqa: F401 - they register their commands
    admin,
    calibration,
    export,
    privacy,
    products,
    reports,
    run,
    triggers,
)
from .main import main
from .run import build_openapi, openapi_yaml

__all__ = ["build_openapi", "main", "openapi_yaml"]
