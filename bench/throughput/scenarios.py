"""What is measured: the scenarios, the service under load, the request bodies, the results and the targets."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BENCH_DIR = Path(__file__).resolve().parent.parent


REPO_ROOT = BENCH_DIR.parent


RESULTS_DIR = BENCH_DIR / "results"


PRODUCT = "return_shipping"


#: the targets (bench/README.md, "Targets"; 2 cores): printed beside the results, never asserted
TARGET_ISSUE_PER_S = 2_500


TARGET_ISSUE_RATIO = 0.55


TARGET_BULK_POLICIES_PER_S = 100_000


ISSUED_RE = re.compile(rb'"issued":\s*(\d+)')


FAILED_RE = re.compile(rb'"failed":\s*(\d+)')


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    method: str
    path: str
    #: the status that counts as success; anything else is an error
    ok_status: int
    #: how each request's body is made: none, static, issue (unique ref), batch (unique refs)
    body: str
    #: items per request (batch only)
    batch: int = 0


@dataclass
class Result:
    scenario: str
    client: str
    seconds: float
    connections: int
    expected_status: int
    phase: str = "measured"
    requests: int = 0
    ok: int = 0
    #: completed responses whose status was not the expected one
    bad_status: int = 0
    #: connect/read/write errors and timeouts (no response at all)
    transport_errors: int = 0
    items_issued: int = 0
    items_failed: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    #: CPU used while measuring, in cores (CPU seconds per second): is the client cheap,
    #: and are the cores saturated?
    client_cores: float | None = None
    server_cores: float | None = None
    postgres_cores: float | None = None
    other_cores: float | None = None
    machine_busy: float | None = None
    #: seconds spent before the run waiting for the server to finish earlier leftovers
    waited_idle_s: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def policies_per_s(self) -> float | None:
        """Policies issued per second: 201s for a single issue, items for a batch."""
        if self.scenario == "issue":
            return self.ok / self.seconds if self.seconds else 0.0
        if self.scenario == "batch":
            return self.items_issued / self.seconds if self.seconds else 0.0
        return None

    @property
    def errors(self) -> int:
        return self.bad_status + self.transport_errors + self.items_failed


@dataclass(frozen=True)
class Target:
    """The running service, as the load generators need it."""

    port: int
    key: str
    connection_header: str
    server_pid: int
    #: POST /v1/quotes body (the same for every request)
    quote_body: str
    #: one policy's JSON in pieces: ref.join(item_parts) gives a policy with external_ref (and
    #: the product's duplicate-cover subject, if any) set to ref
    item_parts: tuple[str, ...]
    #: the risk field varied with the ref, besides external_ref (see subject_field)
    subject: str | None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def scenarios(batch_size: int) -> list[Scenario]:
    return [
        Scenario("bare", "GET /healthz (bare JSON)", "GET", "/healthz", 200, "none"),
        Scenario("quote", "POST /v1/quotes", "POST", "/v1/quotes", 201, "static"),
        Scenario("issue", "POST /v1/policies", "POST", "/v1/policies", 201, "issue"),
        Scenario(
            "batch",
            f"POST /v1/policies/batch x{batch_size}",
            "POST",
            "/v1/policies/batch",
            200,
            "batch",
            batch_size,
        ),
    ]


#: stands for each policy's ref in the JSON templates; refs look like b1f2e3amb-0-17-3
REF_TOKEN = "@@REF@@"


SAMPLE_REF = "b0a0a0amb-00-0000000-0000"


def subject_field(product: dict[str, Any]) -> str | None:
    """The risk field that must differ per policy besides external_ref.

    The product's duplicate_cover subject (product.yaml) names the insured subject: a second
    policy on the same subject is refused (422 duplicate_cover). The API does not publish
    the subject, so it is read from the product file; one varied member makes it unique."""
    path = REPO_ROOT / "products" / PRODUCT / "product.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    subject = [str(f) for f in (doc.get("duplicate_cover") or {}).get("subject") or []]
    if not subject or "external_ref" in subject:
        return None
    risk = product["example_risk"]
    props = product.get("risk_schema", {}).get("properties", {})
    for name in reversed(subject):  # the most specific part (an order number) comes last
        pattern = props.get(name, {}).get("pattern")
        if isinstance(risk.get(name), str) and (not pattern or re.search(pattern, SAMPLE_REF)):
            return name
    raise RuntimeError(
        f"cannot make the duplicate-cover subject {subject} of {PRODUCT} unique: no string field "
        f"whose pattern accepts refs like {SAMPLE_REF!r}"
    )


def payloads(risk: dict[str, Any], subject: str | None) -> tuple[str, tuple[str, ...]]:
    """(quote body, pieces of one policy's JSON that are joined with its ref)."""
    if REF_TOKEN in json.dumps(risk):
        raise RuntimeError(f"the example risk contains {REF_TOKEN!r}")
    quote = json.dumps({"product": PRODUCT, "risk": risk}, separators=(",", ":"))
    varied = {**risk, subject: REF_TOKEN} if subject else risk
    item = {"product": PRODUCT, "external_ref": REF_TOKEN, "risk": varied}
    return quote, tuple(json.dumps(item, separators=(",", ":")).split(REF_TOKEN))
