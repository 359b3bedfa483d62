"""The `policy-service` command group; its commands live in the modules beside it."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """policy-service: scenario micro-insurance."""
