"""Running the service: serve (the API under gunicorn), worker, db upgrade, openapi."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
import yaml

from policy_service.config import Config, load_config

from .common import (
    command_services,
)
from .main import main

# -- serve -----------------------------------------------------------------------------


@main.command()
@click.option("--bind", default=None, help="host:port (default BIND or 127.0.0.1:8000)")
@click.option(
    "--workers", type=int, default=None, help="gunicorn workers (default WEB_CONCURRENCY or 2)"
)
@click.option(
    "--threads",
    type=int,
    default=None,
    help="threads per worker (default WEB_THREADS or 1); above 1 a worker overlaps requests "
    "that wait for the database",
)
@click.option(
    "--server",
    type=click.Choice(["gunicorn", "granian"]),
    default=None,
    help="the HTTP server (default WEB_SERVER or gunicorn); granian is Rust, with keep-alive",
)
@click.option(
    "--no-worker",
    is_flag=True,
    help="serve the API only; run `policy-service worker` processes yourself (production)",
)
def serve(
    bind: str | None,
    workers: int | None,
    threads: int | None,
    server: str | None,
    no_worker: bool,
) -> None:
    """Run the API under gunicorn or granian (migrates the database first), with one
    worker process beside it (webhooks, payments, expiry) unless --no-worker."""
    from policy_service.bootstrap import migrate_database

    config = load_config()
    _with_metrics_folder(config)
    migrate_database(config)
    worker_process = None if no_worker else _start_worker()
    try:
        _serve(config, bind, workers, threads, server or config.web_server)
    finally:
        if worker_process is not None:
            worker_process.terminate()  # it finishes the deliveries in flight
            try:
                worker_process.wait(30)
            except subprocess.TimeoutExpired:
                worker_process.kill()


def _with_metrics_folder(config: Config) -> None:
    """Every process of the service writes its Prometheus values to one folder, and a scrape
    adds them up. prometheus-client reads PROMETHEUS_MULTIPROC_DIR when it is first
    imported, so when it is not set, serve sets it (a fresh folder in DATA_DIR) and starts
    again with it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = config.data_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    program = "from policy_service.cli import main; main()"
    os.execv(sys.executable, [sys.executable, "-c", program, *sys.argv[1:]])


def _start_worker() -> subprocess.Popen[bytes]:
    """`policy-service worker` as a child of serve: the first command alone delivers
    webhooks and settles payments; it stops with serve."""
    click.echo("worker started beside the server (--no-worker to run your own)")
    return subprocess.Popen(
        [sys.executable, "-c", "from policy_service.cli import main; main()", "worker"]
    )


def _serve(
    config: Config,
    bind: str | None,
    workers: int | None,
    threads: int | None,
    server: str,
) -> None:
    from gunicorn.app.base import BaseApplication

    if server == "granian":
        _serve_granian(config, bind or config.bind, workers or config.web_workers, threads)
        return

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", bind or config.bind)
            self.cfg.set("workers", workers or config.web_workers)
            n = threads or config.web_threads
            self.cfg.set("worker_class", "gthread" if n > 1 else "sync")
            self.cfg.set("threads", n)
            self.cfg.set("graceful_timeout", config.web_graceful_timeout)
            # No server access log: the app logs one line per request, with its id and
            # without query strings or bodies (api/request_log.py).
            self.cfg.set("accesslog", None)
            self.cfg.set("child_exit", _worker_exited)

        def load(self) -> Any:
            from policy_service import create_app

            return create_app(config)

    click.echo(
        f"policy-service on http://{bind or config.bind} ({config.database_url.split('://')[0]}); "
        f"docs at /docs"
    )
    _App().run()


def _worker_exited(_server: Any, worker: Any) -> None:
    from policy_service.services import metrics

    metrics.process_ended(worker.pid)


def _serve_granian(config: Config, bind: str, workers: int, threads: int | None) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    host, _, port = bind.rpartition(":")
    click.echo(f"policy-service on http://{bind} (granian); docs at /docs")
    Granian(
        "policy_service:create_app",
        factory=True,
        address=host or "127.0.0.1",
        port=int(port),
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads or config.web_threads,
        # the app logs one line per request (api/request_log.py)
        log_access=False,
        # Without it granian waits for ever on a worker that got the stop signal while
        # still booting, and the service never exits.
        workers_kill_timeout=config.web_graceful_timeout,
    ).serve()


# -- worker ----------------------------------------------------------------------------


@main.command()
@click.option("--once", is_flag=True, help="do one pass and exit (for cron or scripts)")
@click.option(
    "--concurrency",
    type=int,
    default=None,
    help="deliveries in flight (default WORKER_CONCURRENCY or 8)",
)
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="serve this worker's Prometheus metrics on 127.0.0.1:PORT/metrics",
)
def worker(once: bool, concurrency: int | None, metrics_port: int | None) -> None:
    """Deliver webhooks and expire policies (the outbox processor). Run several on PostgreSQL."""
    from policy_service.worker import run_worker

    config = load_config()
    if concurrency:
        config = config.with_(worker_concurrency=concurrency)
    done = run_worker(config, once=once, metrics_port=metrics_port)
    if once:
        click.echo(f"processed {done} item(s)")


# -- db --------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (safe to run again)."""
    from policy_service.bootstrap import migrate_database
    from policy_service.services.triggers import index_policies

    config = load_config()
    click.echo(f"database at revision {migrate_database(config)}")
    # Policies issued before claims existed: store what triggers find them by.
    with command_services(load_products=True) as svc:
        total = 0
        while indexed := index_policies(svc.claims()):
            total += indexed
    if total:
        click.echo(f"indexed {total} policies for claim triggers")


# -- openapi ---------------------------------------------------------------------------


def build_openapi(products_dir: Path | None = None) -> dict[str, Any]:
    """The OpenAPI document, generated from the code and the product files."""
    from policy_service import create_app

    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATA_DIR": tmp, "PII_HASH_KEY": "spec-only"}
        config = load_config(env).with_(
            products_dir=(products_dir or load_config().products_dir).resolve(),
            products_reload_seconds=0,
        )
        app = create_app(config)
        with app.app_context():
            spec = app.extensions["policy_service_api"].openapi_dict()
        app.extensions["policy_service"].dispose()
        return spec


class _NoAliases(yaml.SafeDumper):
    """A value shared by two schemas is written out twice, never as a YAML alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def openapi_yaml(spec: dict[str, Any]) -> str:
    return yaml.dump(spec, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=100)


@main.command()
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), default=None, help="file (default stdout)"
)
def openapi(output: Path | None) -> None:
    """Print or write openapi.yaml, generated from the code and the product files."""
    text = openapi_yaml(build_openapi())
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)
