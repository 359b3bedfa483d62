"""The products on sale: loaded from files, published to the database, reloaded when files change.

A product whose files became invalid is refused whole and the last valid version keeps
serving. An edition already used by a quote or policy may never change: a changed hash
refuses the product, so an actuary publishes a new edition instead.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from policy_service.adapters import editions_repo
from pricing.errors import ProductFileError, ProductInvalid
from pricing.loader import load_product, product_folders
from pricing.model import Edition, Product

log = logging.getLogger(__name__)


def folder_signature(folder: Path) -> str:
    """Cheap change detection: names, sizes and modification times of every file."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            st = path.stat()
            digest.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass
class ReloadReport:
    loaded: list[str] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)


class ProductCatalog:
    def __init__(
        self,
        root: Path,
        engine: sa.Engine | None,
        reload_seconds: int = 5,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.root = root
        self.engine = engine
        self.reload_seconds = reload_seconds
        self.clock = clock
        self._products: dict[str, Product] = {}
        self._signatures: dict[str, str] = {}
        #: product code -> messages of its last refused load (cleared by a valid load)
        self.refused: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._next_check = 0.0

    # -- reading -----------------------------------------------------------------------
    def get(self, code: str) -> Product | None:
        return self._products.get(code)

    def all(self) -> list[Product]:
        return [self._products[k] for k in sorted(self._products)]

    def edition(self, code: str, edition_id: str) -> Edition | None:
        product = self._products.get(code)
        return product.edition(edition_id) if product else None

    # -- loading -----------------------------------------------------------------------
    def maybe_reload(self) -> None:
        """Called on the request path: a stat() walk at most every reload_seconds."""
        if self.reload_seconds <= 0 or time.monotonic() < self._next_check:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread is reloading; serve what we have
        try:
            self._next_check = time.monotonic() + self.reload_seconds
            self._reload_locked()
        finally:
            self._lock.release()

    def reload(self) -> ReloadReport:
        with self._lock:
            return self._reload_locked()

    def _reload_locked(self) -> ReloadReport:
        report = ReloadReport()
        folders = {f.name: f for f in product_folders(self.root)}
        for code in list(self._products):
            if code not in folders:
                del self._products[code]
                self._signatures.pop(code, None)
                report.removed.append(code)
                log.warning("product %s removed: its folder is gone", code)
        for code, folder in folders.items():
            signature = folder_signature(folder)
            if self._signatures.get(code) == signature:
                continue
            self._signatures[code] = signature
            try:
                product = load_product(folder, self.root)
                self._publish(product)
            except ProductInvalid as exc:
                messages = [str(e) for e in exc.errors]
                self.refused[code] = messages
                report.refused[code] = messages
                kept = (
                    "keeps serving its last valid version"
                    if code in self._products
                    else "is not served"
                )
                log.error("product %s refused, %s:\n  %s", code, kept, "\n  ".join(messages))
                continue
            self._products[code] = product
            self.refused.pop(code, None)
            report.loaded.append(code)
            log.info(
                "product %s loaded: editions %s", code, ", ".join(e.id for e in product.editions)
            )
        return report

    def _publish(self, product: Product) -> None:
        """Record every edition in the database; refuse a used edition whose files changed."""
        if self.engine is None:
            return
        now = self.clock() if self.clock else datetime.now().astimezone()
        errors: list[ProductFileError] = []
        with self.engine.begin() as conn:
            for edition in product.editions:
                stored_hash = editions_repo.register(conn, edition, now)
                if stored_hash is None:
                    continue
                if editions_repo.is_used(conn, edition.ref):
                    errors.append(
                        ProductFileError(
                            f"{product.code}/editions/{edition.id}",
                            None,
                            "",
                            f"edition {edition.id} is already used by quotes or policies and may not "
                            f"change (published {stored_hash}, files now {edition.content_hash}); "
                            "publish a new edition with a later effective_from instead",
                        )
                    )
                else:
                    editions_repo.replace_unused(conn, edition, now)
            if errors:
                raise ProductInvalid(product.code, errors)  # rolls back the registrations
