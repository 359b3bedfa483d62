#!/usr/bin/env python3
"""HTTP throughput of the hot path (DESIGN.md "Performance targets"), measured end to end.

One run: a fresh PostgreSQL database, `policy-service serve` with N gunicorn workers, then a
fixed-duration, fixed-concurrency load on four scenarios (bare /healthz, quote, single issue,
batch issue). Prints a table with ratios to the bare endpoint and writes the same results as
JSON under bench/results/. A measurement, never a test: nothing here asserts on timings.

    .venv/bin/python bench/api_throughput.py            # 10 s per scenario, 8 connections
    .venv/bin/python bench/api_throughput.py --quick    # 2 s per scenario, batch of 200
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PRODUCT = "return_shipping"

#: DESIGN.md "Performance targets" (2 cores); printed beside the results, never asserted.
TARGET_ISSUE_PER_S = 2_500
TARGET_ISSUE_RATIO = 0.55
TARGET_BULK_POLICIES_PER_S = 100_000

#: CPU (cores) used by processes outside the benchmark above which a scenario is flagged
NOISE_CORES = 0.2

#: gunicorn access-log lines ('127.0.0.1 "GET /healthz" 200 16 1ms'); anything else in the
#: server log is worth showing when a run had errors.
ACCESS_LINE = re.compile(r'^\S+ "[A-Z]+ \S+" \d{3} ')
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


# -- command line -----------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--connections", type=int, default=8, help="concurrent connections (default 8)")
    p.add_argument(
        "--seconds", type=int, default=None, help="measured seconds per scenario (default 10)"
    )
    p.add_argument(
        "--warmup", type=int, default=None, help="warm-up seconds per scenario (default 2)"
    )
    p.add_argument(
        "--batch-size", type=int, default=None, help="items per batch request (default 1000)"
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke test: 2 s per scenario, batch of 200"
    )
    p.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk (installed with apt-get if missing) or the Python fallback",
    )
    p.add_argument(
        "--wrk-threads", type=int, default=1, help="wrk threads (default 1: it shares the cores)"
    )
    p.add_argument("--no-install", action="store_true", help="do not try `apt-get install wrk`")
    p.add_argument(
        "--scenarios",
        default="bare,quote,issue,batch",
        help="comma-separated subset of bare,quote,issue,batch (bare is always run: it is the baseline)",
    )
    p.add_argument(
        "--server-log",
        type=Path,
        default=None,
        help="keep the server's log (access lines) at this path",
    )
    p.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="maintenance database used to create and drop the bench database",
    )
    args = p.parse_args(argv)
    # --quick only changes what was not given explicitly.
    args.seconds = args.seconds or (2 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    args.batch_size = args.batch_size or (200 if args.quick else 1000)
    if min(args.seconds, args.workers, args.connections, args.batch_size, args.wrk_threads) < 1:
        p.error("--seconds, --workers, --connections, --batch-size and --wrk-threads must be >= 1")
    args.wrk_threads = min(args.wrk_threads, args.connections)
    wanted = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    unknown = wanted - {"bare", "quote", "issue", "batch"}
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    args.scenarios = wanted | {"bare"}
    return args


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


# -- database and server ------------------------------------------------------------------


def create_database(pg_url: str, name: str) -> str:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()
    return str(version[0]) if version else "?"


def drop_database(pg_url: str, name: str) -> None:
    # FORCE: a server that did not stop cleanly may still hold connections.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def db_url(pg_url: str, name: str) -> str:
    """The bench database on the same server as the maintenance database."""
    return pg_url.rsplit("/", 1)[0] + "/" + name


def count_policies(pg_url: str, name: str) -> int:
    with psycopg.connect(db_url(pg_url, name)) as conn:
        row = conn.execute("SELECT count(*) FROM policies").fetchone()
    return int(row[0]) if row else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(exe: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(
            f"policy-service {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
        )
    return proc.stdout


def start_server(
    exe: Path, env: dict[str, str], port: int, workers: int, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        # Own session: Ctrl-C reaches only this script, whose finally stops the server in order.
        # Output goes to a file, never an undrained pipe that would block the access log.
        return subprocess.Popen(
            [str(exe), "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of master and workers
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group is ours: start_new_session=True
        proc.wait(timeout=10)


def wait_healthy(
    proc: subprocess.Popen[bytes], base: str, log: Path, timeout: float = 60
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return {k.lower(): v for k, v in resp.headers.items()}
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"GET /healthz did not answer 200 within {timeout:.0f} s:\n{tail(log)}")


def get_json(url: str, key: str) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"GET {url}: {exc.code} {exc.read()[:400]!r}") from None


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def server_problems(log: Path, limit: int = 60) -> list[str]:
    """Server log lines that are neither access lines nor gunicorn's own INFO lines."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return []
    out = [
        ln
        for ln in text.splitlines()
        if ln.strip() and not ACCESS_LINE.match(ln) and "[INFO]" not in ln
    ]
    out = [ln for ln in out if " INFO " not in ln and not ln.startswith("policy-service on ")]
    return out[:limit]


# -- request bodies ----------------------------------------------------------------------------

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


# -- load generator: wrk ----------------------------------------------------------------------

WRK_LUA = r"""
-- Generated by bench/api_throughput.py. Counters are globals: wrk's done() reads them from
-- each thread's Lua state with thread:get(), which cannot see locals.
local MODE = "@MODE@"
local METHOD = "@METHOD@"
local PATH = "@PATH@"
local OK = @OK@
local BATCH = @BATCH@
local PREFIX = "@PREFIX@"
local QUOTE = [==[@QUOTE@]==]
local ITEM = {@ITEM@}
local headers = {
  ["Host"] = "@HOST@",
  ["Authorization"] = "Bearer @KEY@",
  ["Content-Type"] = "application/json",
}

local threads = {}
local counter = 0
local fixed = nil

ok_n, bad_n, issued_n, failed_n = 0, 0, 0, 0
statuses = {}
sample = ""

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

-- Unique per run (PREFIX), per thread (tid) and per request (counter).
local function next_ref()
  counter = counter + 1
  return PREFIX .. "-" .. tid .. "-" .. counter
end

-- One policy's JSON: its pieces joined with the ref (see Target.item_parts).
local function item(ref)
  return table.concat(ITEM, ref)
end

function request()
  if MODE == "none" then
    fixed = fixed or wrk.format(METHOD, PATH, headers, nil)
    return fixed
  elseif MODE == "static" then
    fixed = fixed or wrk.format(METHOD, PATH, headers, QUOTE)
    return fixed
  elseif MODE == "issue" then
    local ref = next_ref()
    headers["Idempotency-Key"] = ref
    return wrk.format(METHOD, PATH, headers, item(ref))
  else
    local base = next_ref()
    local parts = {}
    for i = 1, BATCH do
      parts[i] = item(base .. "-" .. i)
    end
    return wrk.format(METHOD, PATH, headers, '{"items":[' .. table.concat(parts, ",") .. ']}')
  end
end

local function count(body, name)
  -- The counts close the batch body; look at its end before scanning all of it.
  local pat = '"' .. name .. '":%s*(%d+)'
  local n = string.match(string.sub(body, -4096), pat) or string.match(body, pat)
  return tonumber(n or 0)
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == OK then
    ok_n = ok_n + 1
    if MODE == "batch" then
      local failed = count(body, "failed")
      issued_n = issued_n + count(body, "issued")
      failed_n = failed_n + failed
      local at = failed > 0 and sample == "" and string.find(body, '"error":', 1, true)
      if at then
        sample = "batch item " .. string.sub(body, at, at + 400)
      end
    end
  else
    bad_n = bad_n + 1
    if sample == "" then
      sample = status .. " " .. string.sub(body or "", 1, 400)
    end
  end
end

local function esc(s)
  return '"' .. string.gsub(tostring(s), '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests)
  local ok, bad, issued, failed = 0, 0, 0, 0
  local st, samples = {}, {}
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok_n")
    bad = bad + t:get("bad_n")
    issued = issued + t:get("issued_n")
    failed = failed + t:get("failed_n")
    for code, n in pairs(t:get("statuses")) do
      st[tostring(code)] = (st[tostring(code)] or 0) + n
    end
    local s = t:get("sample")
    if s ~= "" then table.insert(samples, esc(s)) end
  end
  local sts = {}
  for code, n in pairs(st) do table.insert(sts, esc(code) .. ":" .. n) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"ok":%d,"bad_status":%d,"issued":%d,"failed":%d,'
      .. '"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"statuses":{%s},"samples":[%s]}\n',
    summary.requests, summary.duration, ok, bad, issued, failed,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max,
    table.concat(sts, ","), table.concat(samples, ",")))
end
"""


def _lua_string(text: str) -> str:
    if "]==]" in text:
        raise ValueError(f"cannot embed {text[:60]!r} in a Lua long string")
    return f"[==[{text}]==]"


def wrk_script(sc: Scenario, t: Target, prefix: str) -> str:
    values = {
        "MODE": sc.body,
        "METHOD": sc.method,
        "PATH": sc.path,
        "OK": str(sc.ok_status),
        "BATCH": str(sc.batch),
        "PREFIX": prefix,
        "QUOTE": t.quote_body,
        "ITEM": ", ".join(_lua_string(part) for part in t.item_parts),
        "HOST": f"127.0.0.1:{t.port}",
        "KEY": t.key,
    }
    return re.sub(r"@([A-Z]+)@", lambda m: values[m.group(1)], WRK_LUA)


def find_wrk(allow_install: bool) -> str | None:
    found = shutil.which("wrk")
    if found or not allow_install or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    print("wrk not found: trying `apt-get update && apt-get install -y wrk` ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"  {' '.join(cmd)}: {exc}")
            return None
        if proc.returncode != 0:
            print(f"  {' '.join(cmd)} failed: {proc.stderr.strip()[-300:]}")
            return None
    return shutil.which("wrk")


def run_wrk(
    wrk: str,
    sc: Scenario,
    t: Target,
    seconds: int,
    args: argparse.Namespace,
    prefix: str,
    tmp: Path,
) -> Result:
    script = tmp / f"{sc.name}-{prefix}.lua"
    script.write_text(wrk_script(sc, t, prefix))
    # --timeout: a queued batch of 1,000 can take seconds; wrk's 2 s default would count it as lost.
    cmd = [wrk, "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{seconds}s"]
    cmd += ["--timeout", "60s", "-s", str(script), t.base + sc.path]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}")
    d = json.loads(line.removeprefix("BENCH_JSON "))
    return Result(
        scenario=sc.name,
        client="wrk",
        seconds=d["duration_us"] / 1e6,
        connections=args.connections,
        expected_status=sc.ok_status,
        requests=d["requests"],
        ok=d["ok"],
        bad_status=d["bad_status"],
        transport_errors=d["connect"] + d["read"] + d["write"] + d["timeout"],
        items_issued=d["issued"],
        items_failed=d["failed"],
        p50_ms=d["p50_us"] / 1000 if d["requests"] else None,
        p99_ms=d["p99_us"] / 1000 if d["requests"] else None,
        max_ms=d["max_us"] / 1000 if d["requests"] else None,
        statuses=dict(sorted(d["statuses"].items())),
        error_samples=d["samples"][:3],
    )


# -- load generator: Python fallback -------------------------------------------------------------


def _body(sc: Scenario, t: Target, ref: str) -> bytes | None:
    if sc.body == "none":
        return None
    if sc.body == "static":
        return t.quote_body.encode()
    if sc.body == "issue":
        return ref.join(t.item_parts).encode()
    items = ",".join(f"{ref}-{i}".join(t.item_parts) for i in range(sc.batch))
    return f'{{"items":[{items}]}}'.encode()


def _python_worker(
    sc: Scenario, t: Target, prefix: str, start_at: float, end_at: float
) -> dict[str, Any]:
    """One connection: requests back to back until end_at. http.client reconnects by itself
    after a `Connection: close` response, so the connect is inside the measured latency."""
    conn = http.client.HTTPConnection("127.0.0.1", t.port, timeout=60)
    headers = {"Authorization": f"Bearer {t.key}", "Content-Type": "application/json"}
    out: dict[str, Any] = {"lat": [], "ok": 0, "bad": 0, "transport": 0, "issued": 0, "failed": 0}
    statuses: dict[str, int] = {}
    samples: list[str] = []
    n = 0
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < end_at:
        n += 1
        ref = f"{prefix}-{n}"
        body = _body(sc, t, ref)
        hdrs = {**headers, "Idempotency-Key": ref} if sc.body == "issue" else headers
        t0 = time.perf_counter()
        try:
            conn.request(sc.method, sc.path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            if time.time() < end_at:
                out["transport"] += 1
            conn.close()
            continue
        if time.time() > end_at:
            break  # as in wrk: what lands after the window is not counted (it would inflate req/s)
        out["lat"].append((time.perf_counter() - t0) * 1000)
        statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
        if resp.status == sc.ok_status:
            out["ok"] += 1
            if sc.body == "batch":
                for name, pattern in (("issued", ISSUED_RE), ("failed", FAILED_RE)):
                    m = pattern.search(data[-4096:]) or pattern.search(data)
                    out[name] += int(m.group(1)) if m else 0
                at = data.find(b'"error":') if out["failed"] and not samples else -1
                if at >= 0:
                    samples.append(f"batch item {data[at : at + 400].decode(errors='replace')}")
        else:
            out["bad"] += 1
            if not samples:
                samples.append(f"{resp.status} {data[:400].decode(errors='replace')}")
    conn.close()
    out["statuses"] = statuses
    out["samples"] = samples
    return out


def _worker_signals() -> None:
    # Forked workers inherit main()'s SIGTERM handler; Pool.terminate() must simply end them,
    # and Ctrl-C is the parent's to handle.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def run_python(
    sc: Scenario, t: Target, seconds: int, args: argparse.Namespace, prefix: str
) -> Result:
    # One process per connection: one Python process could not keep 8 connections busy.
    start_at = time.time() + 0.5  # let every process start before the clock runs
    end_at = start_at + seconds
    jobs = [(sc, t, f"{prefix}-{i}", start_at, end_at) for i in range(args.connections)]
    with multiprocessing.Pool(args.connections, initializer=_worker_signals) as pool:
        parts = pool.starmap(_python_worker, jobs)
    lat = sorted(x for part in parts for x in part["lat"])
    statuses: dict[str, int] = {}
    for part in parts:
        for code, n in part["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return Result(
        scenario=sc.name,
        client="python",
        seconds=float(seconds),
        connections=args.connections,
        expected_status=sc.ok_status,
        requests=len(lat),
        ok=sum(p["ok"] for p in parts),
        bad_status=sum(p["bad"] for p in parts),
        transport_errors=sum(p["transport"] for p in parts),
        items_issued=sum(p["issued"] for p in parts),
        items_failed=sum(p["failed"] for p in parts),
        p50_ms=_percentile(lat, 50),
        p99_ms=_percentile(lat, 99),
        max_ms=lat[-1] if lat else None,
        statuses=dict(sorted(statuses.items())),
        error_samples=list(dict.fromkeys(s for p in parts for s in p["samples"]))[:3],
    )


# -- CPU accounting (Linux /proc; None elsewhere) ----------------------------------------------

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuSnapshot:
    wall: float
    #: CPU seconds of reaped children: wrk, or the fallback's pool processes
    client: float
    #: CPU seconds of the gunicorn master and its workers
    server: float
    #: CPU seconds of every process named postgres (this database's backends among them)
    postgres: float
    #: busy and total jiffies of the whole machine, from /proc/stat
    busy: int
    total: int


def _proc_stat(pid: str) -> tuple[str, int, float] | None:
    """(command, parent pid, CPU seconds) of a process, from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # it exited meanwhile
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]  # the name may hold spaces
    fields = text[text.rindex(")") + 1 :].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def cpu_snapshot(server_pid: int) -> CpuSnapshot | None:
    """Who is using the cores; None where there is no Linux /proc."""
    try:
        # user nice system idle iowait irq softirq steal (guest time is already in user)
        jiffies = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return None
    idle = jiffies[3] + jiffies[4]  # idle + iowait
    server, postgres = _process_cpu(server_pid)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSnapshot(
        time.monotonic(),
        ru.ru_utime + ru.ru_stime,
        server,
        postgres,
        sum(jiffies) - idle,
        sum(jiffies),
    )


def _process_cpu(server_pid: int) -> tuple[float, float]:
    """CPU seconds of (the gunicorn master and its workers, every postgres process)."""
    server = postgres = 0.0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (info := _proc_stat(entry.name)):
            comm, ppid, cpu = info
            if int(entry.name) == server_pid or ppid == server_pid:
                server += cpu
            elif comm == "postgres":
                postgres += cpu
    return server, postgres


def server_cpu(server_pid: int) -> float | None:
    """CPU seconds of the gunicorn master and its workers; None without /proc."""
    return _process_cpu(server_pid)[0] if Path("/proc").is_dir() else None


def wait_idle(server_pid: int, timeout: float = 120) -> float:
    """Wait until the server has finished what the last client run left in flight, and return
    the seconds waited. A stopped client closes its sockets, but gunicorn still works through
    the requests already queued: 8 leftover batches of 1,000 are seconds of work that would
    otherwise eat into the next measurement."""
    start = time.monotonic()
    prev = server_cpu(server_pid)
    if prev is None:
        time.sleep(2)  # no /proc: a fixed pause instead
        return 2.0
    quiet = 0
    while quiet < 2 and time.monotonic() - start < timeout:
        time.sleep(0.25)
        cur = server_cpu(server_pid) or 0.0
        quiet = quiet + 1 if cur - prev < 0.025 else 0  # < 10% of a core, twice in a row
        prev = cur
    return time.monotonic() - start


def add_cpu(r: Result, before: CpuSnapshot | None, after: CpuSnapshot | None) -> None:
    """CPU in cores over the run. `other` is the rest of the machine's busy time: processes
    that are not part of this benchmark skew its numbers."""
    if before is None or after is None or after.total <= before.total:
        return
    wall = after.wall - before.wall
    r.client_cores = (after.client - before.client) / wall
    r.server_cores = (after.server - before.server) / wall
    r.postgres_cores = (after.postgres - before.postgres) / wall
    r.machine_busy = (after.busy - before.busy) / (after.total - before.total)
    used = r.machine_busy * (os.cpu_count() or 1)
    r.other_cores = max(0.0, used - r.client_cores - r.server_cores - r.postgres_cores)


# -- report ------------------------------------------------------------------------------------


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def target_text(r: Result, bare_rps: float) -> tuple[str, str]:
    """(target, verdict) from DESIGN.md; the verdict is information, not an assertion."""
    if r.scenario == "bare":
        return "baseline", ""
    if r.scenario == "issue":
        met = (
            bare_rps > 0 and r.rps >= TARGET_ISSUE_PER_S and r.rps / bare_rps >= TARGET_ISSUE_RATIO
        )
        return (
            f">= {TARGET_ISSUE_PER_S:,}/s and >= {TARGET_ISSUE_RATIO:.0%} of bare",
            "met" if met else "BELOW",
        )
    if r.scenario == "batch":
        met = (r.policies_per_s or 0) >= TARGET_BULK_POLICIES_PER_S
        return f">= {TARGET_BULK_POLICIES_PER_S:,} policies/s", "met" if met else "BELOW"
    return "-", ""


def print_rows(head: list[str], rows: list[list[str]], left: set[int]) -> None:
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    for i, row in enumerate([head, *rows]):
        cells = (
            x.ljust(w) if j in left else x.rjust(w)
            for j, (x, w) in enumerate(zip(row, widths, strict=True))
        )
        print("  " + "  ".join(cells).rstrip())
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths).rstrip())


def print_table(results: list[Result]) -> None:
    bare_rps = next(r.rps for r in results if r.scenario == "bare")
    rows = []
    for r in results:
        target, verdict = target_text(r, bare_rps)
        pol = r.policies_per_s
        rows.append(
            [
                r.scenario,
                _fmt(r.rps),
                _fmt(pol),
                _fmt(r.p50_ms, 2),
                _fmt(r.p99_ms, 2),
                f"{r.errors:,}" + (" !!" if r.errors else ""),
                f"{r.rps / bare_rps:.1%}" if bare_rps else "-",
                f"{pol / bare_rps:.1%}" if bare_rps and pol is not None else "-",
                target,
                verdict,
            ]
        )
    head = ["scenario", "req/s", "policies/s", "p50 ms", "p99 ms", "errors"]
    head += ["req/s÷bare", "pol/s÷bare", "DESIGN target", ""]
    print_rows(head, rows, {0, 8, 9})

    # Context for reading the numbers: sample sizes, and who used the cores.
    print()
    rows = [
        [
            r.scenario,
            f"{r.requests:,}",
            f"{r.seconds:.2f}",
            _fmt(r.max_ms, 2),
            _fmt(r.client_cores, 2),
            _fmt(r.server_cores, 2),
            _fmt(r.postgres_cores, 2),
            _fmt(r.other_cores, 2) + (" !!" if (r.other_cores or 0) > NOISE_CORES else ""),
            "-" if r.machine_busy is None else f"{r.machine_busy:.0%}",
        ]
        for r in results
    ]
    head = ["scenario", "requests", "seconds", "max ms", "cores: client", "gunicorn"]
    head += ["postgres", "other", "machine busy"]
    print_rows(head, rows, {0})
    noisy = [r.scenario for r in results if (r.other_cores or 0) > NOISE_CORES]
    if noisy:
        print(
            f"  !! other processes used more than {NOISE_CORES} cores during {', '.join(noisy)}: "
            "those numbers are skewed; rerun on a quiet machine."
        )


def report_errors(results: list[Result], problems: list[str]) -> bool:
    """Say loudly, on stdout and stderr, what went wrong; True if anything did."""
    bad = [r for r in results if r.errors]
    if not bad:
        if problems:  # no failed request, but the server complained: show it, quietly
            print("\n  server log lines other than access lines:")
            print("\n".join(f"    {ln}" for ln in problems))
        return False
    bar = "!" * 78
    lines = [bar, "!!! THIS RUN HAD ERRORS: its numbers are not a valid measurement", bar]
    for r in bad:
        lines.append(
            f"!!! {r.scenario} ({r.phase}): {r.bad_status:,} responses not {r.expected_status} "
            f"(statuses {r.statuses}), {r.transport_errors:,} transport errors/timeouts, "
            f"{r.items_failed:,} batch items failed"
        )
        lines += [f"!!!   first: {sample}" for sample in r.error_samples]
    if problems:
        lines.append("!!! server log lines other than access lines:")
        lines += [f"!!!   {ln}" for ln in problems]
    lines.append(bar)
    text = "\n".join(lines)
    print(text)
    print(text, file=sys.stderr)
    return True


# -- main ----------------------------------------------------------------------------------------


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # same clean-up path as Ctrl-C


def print_header(
    args: argparse.Namespace, wrk: str | None, pg_version: str, db: str, t: Target
) -> None:
    print(f"policy-service API throughput  ({datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)")
    print(
        f"  server : policy-service serve, {args.workers} gunicorn sync workers, PostgreSQL "
        f"{pg_version} (db {db}); {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}"
    )
    client = (
        f"wrk ({wrk}, {args.wrk_threads} thread(s))"
        if wrk
        else f"python fallback ({args.connections} processes, http.client)"
    )
    print(
        f"  client : {client}; {args.connections} connections, "
        f"{args.warmup} s warm-up + {args.seconds} s per scenario"
    )
    unique = "external_ref" + (f" and risk.{t.subject}" if t.subject else "")
    print(
        f"  bodies : {PRODUCT} example risk; {unique} unique per policy, Idempotency-Key per issue"
    )
    print(f"  notes  : the server answers `Connection: {t.connection_header}`", end="")
    if t.connection_header.lower() == "close":
        print(
            " (sync workers never keep a connection alive): every request opens a new TCP connection."
        )
    else:
        print(".")
    print(
        f"           a sync worker serves one connection at a time: {args.connections} connections on "
        f"{args.workers} workers queue in the listen backlog, and latency includes that wait."
    )
    print(
        "           the server's access log (one line per request, to a file) is part of the cost."
    )
    print(
        "           before each run the server is left to go idle: requests that a stopped client "
        "left queued would eat into the next run.\n"
    )


def measure(
    args: argparse.Namespace, wrk: str | None, t: Target, tmp: Path
) -> tuple[list[Result], list[Result]]:
    """(measured results, warm-up results) of every chosen scenario."""
    run_id = secrets.token_hex(3)  # refs stay unique even if the database were reused
    results: list[Result] = []
    warmups: list[Result] = []
    for sc in scenarios(args.batch_size):
        if sc.name not in args.scenarios:
            continue
        print(f"  {sc.title}: warm-up {args.warmup} s, measuring {args.seconds} s ...", flush=True)
        phases = [("w", args.warmup)] if args.warmup else []
        for phase, seconds in [*phases, ("m", args.seconds)]:
            prefix = f"b{run_id}{phase}{sc.name[0]}"
            drained = wait_idle(t.server_pid)
            before = cpu_snapshot(t.server_pid)
            if wrk:
                r = run_wrk(wrk, sc, t, seconds, args, prefix, tmp)
            else:
                r = run_python(sc, t, seconds, args, prefix)
            add_cpu(r, before, cpu_snapshot(t.server_pid))
            r.waited_idle_s = round(drained, 2)
            if phase == "w":
                r.phase = "warm-up"
                warmups.append(r)
            else:
                results.append(r)
    return results, warmups


def results_doc(
    args: argparse.Namespace, client: str, results: list[Result], extra: dict[str, Any]
) -> dict[str, Any]:
    bare_rps = next(r.rps for r in results if r.scenario == "bare")
    rows = []
    for r in results:
        pol = r.policies_per_s
        rows.append(
            {
                **asdict(r),
                "requests_per_s": r.rps,
                "policies_per_s": pol,
                "ratio_to_bare": r.rps / bare_rps if bare_rps else None,
                "policies_ratio_to_bare": pol / bare_rps if pol is not None and bare_rps else None,
                "errors": r.errors,
                "target": target_text(r, bare_rps)[0],
                "target_verdict": target_text(r, bare_rps)[1] or None,
            }
        )
    return {
        "benchmark": "api_throughput",
        "config": {
            "workers": args.workers,
            "connections": args.connections,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "batch_size": args.batch_size,
            "quick": args.quick,
            "client": client,
            "wrk_threads": args.wrk_threads if client == "wrk" else None,
        },
        "targets": {
            "issue_per_s": TARGET_ISSUE_PER_S,
            "issue_ratio_to_bare": TARGET_ISSUE_RATIO,
            "bulk_policies_per_s": TARGET_BULK_POLICIES_PER_S,
        },
        "results": rows,
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    exe = Path(sys.executable).parent / "policy-service"
    if not exe.exists():
        print(f"no {exe}: run with the project's venv python (.venv/bin/python)", file=sys.stderr)
        return 2
    wrk = None if args.client == "python" else find_wrk(not args.no_install)
    if args.client == "wrk" and wrk is None:
        print("--client wrk: wrk is not installed and could not be installed", file=sys.stderr)
        return 2
    client = "wrk" if wrk else "python"

    db_name = f"bench_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="policy-bench-"))
    log = tmp / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql+psycopg://" + db_url(args.pg_url, db_name).split("://", 1)[1],
        "DATA_DIR": str(tmp),
        "PII_HASH_KEY": "bench",
        "PRODUCTS_DIR": str(REPO_ROOT / "products"),
    }
    loadavg = os.getloadavg()[0]
    server: subprocess.Popen[bytes] | None = None
    db_created = False
    try:
        pg_version = create_database(args.pg_url, db_name)
        db_created = True
        cli(exe, env, "db", "upgrade")
        key = cli(exe, env, "partners", "create", "Bench").strip().splitlines()[-1].strip()
        if not key.startswith("sk_test_"):
            raise RuntimeError(f"unexpected `partners create` output, last line {key!r}")

        port = free_port()
        server = start_server(exe, env, port, args.workers, log)
        headers = wait_healthy(server, f"http://127.0.0.1:{port}", log)
        product = get_json(f"http://127.0.0.1:{port}/v1/products/{PRODUCT}", key)
        subject = subject_field(product)
        quote_body, item_parts = payloads(product["example_risk"], subject)
        connection = headers.get("connection", "(none)")
        target = Target(port, key, connection, server.pid, quote_body, item_parts, subject)

        print_header(args, wrk, pg_version, db_name, target)
        results, warmups = measure(args, wrk, target, tmp)

        # Durability cross-check: every acknowledged issue must be a row. There may be more
        # rows: requests still in flight when the client stopped commit after it.
        acked = sum(r.ok for r in results + warmups if r.scenario == "issue")
        acked += sum(r.items_issued for r in results + warmups if r.scenario == "batch")
        rows = count_policies(args.pg_url, db_name)
        problems = server_problems(log)

        print()
        print_table(results)
        verdict = "ok" if rows >= acked else "!!! FEWER ROWS THAN ACKNOWLEDGED ISSUES"
        print(
            f"\n  db check: {rows:,} policy rows for {acked:,} acknowledged issues (incl. warm-up): {verdict}"
        )
        print(
            "  not measured here: p99 at a fixed 1,000 issues/s (needs an open-loop client), "
            "bulk issue vs raw COPY, in-process pricing."
        )
        had_errors = report_errors(results + warmups, problems) or rows < acked

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        doc = results_doc(
            args,
            client,
            results,
            {
                "timestamp": stamp,
                "environment": {
                    "cores": os.cpu_count(),
                    "loadavg_at_start": loadavg,
                    "python": platform.python_version(),
                    "postgresql": pg_version,
                    "server_connection_header": target.connection_header,
                    "unique_risk_field": target.subject,
                    "git_head": _git_head(),
                },
                "db_check": {
                    "policy_rows": rows,
                    "acknowledged_issues": acked,
                    "ok": rows >= acked,
                },
                "had_errors": had_errors,
                "server_log_problems": problems,
            },
        )
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out = RESULTS_DIR / f"api_throughput-{stamp}.json"
        out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\n  results: {out.relative_to(REPO_ROOT)}")
        return 1 if had_errors else 0
    except RuntimeError as exc:
        print(f"\nbench failed: {exc}", file=sys.stderr)
        if server is not None:
            status = "running" if server.poll() is None else f"exited with {server.returncode}"
            print(f"server {status}; its log ends with:\n{tail(log)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the server and dropping the database", file=sys.stderr)
        return 130
    finally:
        # A second Ctrl-C during clean-up must not leave the server or the database behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if server is not None:
            stop_server(server)
        if args.server_log and log.exists():
            shutil.copyfile(log, args.server_log)
        if db_created:
            drop_database(args.pg_url, db_name)
        shutil.rmtree(tmp, ignore_errors=True)


def _git_head() -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except OSError:
        return None
    return proc.stdout.strip() or None


if __name__ == "__main__":
    sys.exit(main())
