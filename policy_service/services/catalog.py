"""The products on sale: loaded from files, registered in the database, reloaded when files
change or someone publishes.

A product whose files became invalid is refused whole and the last valid version keeps
serving. Only published editions are sold (services.publishing); an edition already used by
a quote or policy may never change: a changed hash refuses the product, so an actuary
publishes a new edition instead. A reload swaps one immutable Product object, so a request
that read it once sees the old editions or the new ones, never a mix.
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

from pricing.errors import ProductInvalid
from pricing.loader import (
    TriggerTypes,
    load_product,
    load_trigger_types,
    product_folders,
    trigger_files,
)
from pricing.model import Edition, Product
from pricing.triggers import TriggerType

from . import publishing, trigger_publishing
from .unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def folder_signature(folder: Path) -> str:
    """Cheap change detection: names, sizes and modification times of every file."""
    return files_signature(folder, sorted(p for p in folder.rglob("*") if p.is_file()))


def files_signature(folder: Path, paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        st = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass
class ReloadReport:
    loaded: list[str] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    #: product code -> editions on disk that are not on sale, and why
    not_on_sale: dict[str, list[str]] = field(default_factory=dict)
    #: the trigger types in force, and the trigger files that are not, with why
    triggers: list[str] = field(default_factory=list)
    trigger_warnings: list[str] = field(default_factory=list)


class ProductCatalog:
    def __init__(
        self,
        root: Path,
        uow: UnitOfWork | None,
        reload_seconds: int = 5,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.root = root
        self.uow = uow
        self.reload_seconds = reload_seconds
        self.clock = clock
        #: code -> the product with only its editions on sale
        self._products: dict[str, Product] = {}
        #: code -> every valid edition on disk, for policies pinned to one
        self._loaded: dict[str, Product] = {}
        self._signatures: dict[str, str] = {}
        #: the publications seen at the last reload (editions_repo.publications_mark)
        self._mark: int | None = None
        #: product code -> messages of its last refused load (cleared by a valid load)
        self.refused: dict[str, list[str]] = {}
        #: the trigger types claim rules and data providers use (triggers/*.yaml)
        self.triggers = TriggerTypes()
        self._trigger_signature: str | None = None
        self._trigger_mark_seen: int | None = None
        #: trigger files not in force, and why (not published, changed since, refused)
        self.trigger_warnings: list[str] = []
        self._lock = threading.Lock()
        self._next_check = 0.0

    # -- reading -----------------------------------------------------------------------
    def get(self, code: str) -> Product | None:
        """The product as sold: only its published editions."""
        return self._products.get(code)

    def all(self) -> list[Product]:
        return [self._products[k] for k in sorted(self._products)]

    def edition(self, code: str, edition_id: str) -> Edition | None:
        """An edition by id, published or not: policies and quotes keep the one they use."""
        product = self._loaded.get(code)
        return product.edition(edition_id) if product else None

    def pinned(self, code: str, edition_id: str, content_hash: str) -> Edition | None:
        """The loaded edition a policy or quote is pinned to, as it was (Product.pinned)."""
        product = self._loaded.get(code)
        return product.pinned(edition_id, content_hash) if product else None

    def all_loaded(self) -> list[Product]:
        """Every product with every edition a policy may be pinned to (on sale or not)."""
        return [self._loaded[k] for k in sorted(self._loaded)]

    def trigger_type(self, name: str) -> TriggerType | None:
        return self.triggers.get(name)

    def trigger_types(self) -> list[TriggerType]:
        return [self.triggers.types[k] for k in sorted(self.triggers.types)]

    # -- loading -----------------------------------------------------------------------
    def maybe_reload(self) -> None:
        """Called on the request path: a stat() walk and one small query at most every
        reload_seconds. A failure (the database away) is logged; the request goes on with
        what is loaded and the next check tries again."""
        if self.reload_seconds <= 0 or time.monotonic() < self._next_check:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread is reloading; serve what we have
        try:
            self._next_check = time.monotonic() + self.reload_seconds
            self._reload_locked()
        except sa.exc.SQLAlchemyError:
            log.exception("product reload failed; serving the products loaded before")
        finally:
            self._lock.release()

    def reload(self) -> ReloadReport:
        with self._lock:
            return self._reload_locked()

    def _now(self) -> datetime:
        return self.clock() if self.clock else datetime.now().astimezone()

    def _reload_locked(self) -> ReloadReport:
        report = ReloadReport()
        # a publication (here or in another process) re-decides every product
        mark = self._publications_mark()
        republished = mark != self._mark
        folders = {f.name: f for f in product_folders(self.root)}
        # new trigger types re-decide every product: its rules are checked against them
        republished |= self._reload_triggers(report)
        for code in list(self._products.keys() | self.refused.keys()):
            if code not in folders:
                # off sale; editions stay loaded for the policies pinned to them
                self._products.pop(code, None)
                self._signatures.pop(code, None)
                self.refused.pop(code, None)
                report.removed.append(code)
                log.warning("product %s removed: its folder is gone", code)
        loaded: dict[str, tuple[Product, str]] = {}
        for code, folder in folders.items():
            signature = folder_signature(folder)
            if self._signatures.get(code) == signature and not republished:
                continue
            try:
                loaded[code] = (load_product(folder, self.root, self.triggers), signature)
            except ProductInvalid as exc:
                self._signatures[code] = signature
                self._refuse(code, [str(e) for e in exc.errors], report)
                self._keep_serving_safely(code, None)
        if self.uow is not None and loaded and self._mark is None:
            with self.uow.write() as tx:
                products = [product for product, _ in loaded.values()]
                if publishing.publish_first_start(tx, products, self._now()):
                    log.info(
                        "first start: published the editions in force of %s", ", ".join(loaded)
                    )
                # after the lock: another process's first start is seen, not reloaded again
                mark = tx.editions.publications_mark()
        complete = True
        for code, (product, signature) in loaded.items():
            try:
                on_sale, pinned = self._serving(product, report)
            except ProductInvalid as exc:
                self._signatures[code] = signature
                self._refuse(code, [str(e) for e in exc.errors], report)
                self._keep_serving_safely(code, product)
                continue
            except sa.exc.SQLAlchemyError:
                # not decided: keep the old signature, so the next check tries again
                log.exception("product %s: the database failed while loading it", code)
                complete = False
                continue
            self._signatures[code] = signature
            self._loaded[code] = pinned
            self._products[code] = on_sale
            self.refused.pop(code, None)
            report.loaded.append(code)
            log.info(
                "product %s loaded: on sale %s",
                code,
                ", ".join(e.id for e in on_sale.editions) or "nothing",
            )
        if complete:
            self._mark = mark
        return report

    def _reload_triggers(self, report: ReloadReport) -> bool:
        """The trigger types in force: as published (services/trigger_publishing), or the
        files themselves for offline tools. True when they changed."""
        signature = files_signature(self.root, trigger_files(self.root))
        mark = self._trigger_mark()
        if (signature, mark) == (self._trigger_signature, self._trigger_mark_seen):
            return False
        on_disk = load_trigger_types(self.root)
        warnings: list[str] = []
        if self.uow is None:
            types = on_disk
            warnings = [f"triggers/{n}.yaml is refused: {e[0]}" for n, e in on_disk.refused.items()]
        else:
            with self.uow.write() as tx:
                if trigger_publishing.publish_first_start(tx, on_disk, self._now()):
                    log.info(
                        "first start: published the trigger types %s", ", ".join(on_disk.types)
                    )
                state = trigger_publishing.in_force(tx, on_disk)
                mark = tx.trigger_types.mark()
            types, warnings = state.types, state.warnings
        for warning in warnings:
            log.warning("%s", warning)
        self._trigger_signature, self._trigger_mark_seen = signature, mark
        self.trigger_warnings = report.trigger_warnings = warnings
        changed = types.hashes != self.triggers.hashes
        self.triggers = types
        report.triggers = sorted(types.types)
        return changed

    def _trigger_mark(self) -> int:
        if self.uow is None:
            return 0
        with self.uow.read() as tx:
            return tx.trigger_types.mark()

    def _keep_serving_safely(self, code: str, refused: Product | None) -> None:
        """A refused product keeps its last version on sale, minus what was withdrawn or
        changed since; its policies keep their editions (see publishing.pinnable)."""
        if self.uow is None:
            return
        with self.uow.read() as tx:
            if refused is not None:  # its valid editions, or their records
                self._loaded[code] = publishing.pinnable(tx, refused, self.triggers)
            if code in self._products and code in self._loaded:
                self._products[code] = publishing.on_sale(tx, self._loaded[code], self._now())

    def _publications_mark(self) -> int:
        if self.uow is None:
            return 0
        with self.uow.read() as tx:
            return tx.editions.publications_mark()

    def _serving(self, product: Product, report: ReloadReport) -> tuple[Product, Product]:
        """(the product as sold, every edition policies may be pinned to)."""
        if self.uow is None:  # offline tools: every valid edition counts
            return product, product
        with self.uow.write() as tx:
            serving = publishing.serving(tx, product, self._now())
            pinned = publishing.pinnable(tx, product, self.triggers)
        if serving.warnings:
            report.not_on_sale[product.code] = serving.warnings
            for warning in serving.warnings:
                log.warning("product %s: %s", product.code, warning)
        return serving.product, pinned

    def _refuse(self, code: str, messages: list[str], report: ReloadReport) -> None:
        self.refused[code] = messages
        report.refused[code] = messages
        kept = "keeps serving its last valid version" if code in self._products else "is not served"
        log.error("product %s refused, %s:\n  %s", code, kept, "\n  ".join(messages))
