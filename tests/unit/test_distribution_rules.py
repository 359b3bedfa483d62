"""The schema against the rules a distributed PostgreSQL (Citus) needs (docs/scaling.md):

1. every table is placed: by partner, reference, or by risk;
2. a table placed by partner has a partner_id column;
3. every unique constraint (primary keys and unique indexes too) of such a table
   includes partner_id: Citus checks uniqueness within a shard only;
4. a foreign key between two such tables includes partner_id on both sides;
5. a foreign key between tables placed differently points at a reference table.

Where the schema breaks a rule today, the case is listed in GAPS (docs/scaling.md, "Where
the schema stands today"): a new table, constraint or key must keep the rules, and a gap
closed must leave the list, so that the list stays the exact work left."""

from __future__ import annotations

import sqlalchemy as sa

from policy_service.adapters.distribution import BY_PARTNER, BY_RISK, REFERENCE
from policy_service.adapters.tables import metadata

#: rule -> the cases that break it today, and why (docs/scaling.md)
GAPS: dict[str, set[str]] = {
    "partner_id column": set(),
    # the payment API's id, which its webhooks name alone
    "unique without partner_id": {"payments: (payment_intent)"},
    "foreign key without partner_id": set(),
    # kept on one PostgreSQL, where they protect integrity; a cluster drops them and the
    # code that writes these rows (in the policy's transaction) keeps them true
    "foreign key across placements": {
        "claims.trigger_event_id -> trigger_events",
        "cover_locks.policy_id -> policies",
        "policy_subjects.policy_id -> policies",
    },
}


def _placement(table: str) -> str:
    return "partner" if table in BY_PARTNER else "reference" if table in REFERENCE else "risk"


def _uniques(table: sa.Table) -> list[tuple[str, list[str]]]:
    found = [("primary key", [c.name for c in table.primary_key.columns])]
    found += [
        ("unique", [c.name for c in c.columns])
        for c in table.constraints
        if isinstance(c, sa.UniqueConstraint)
    ]
    found += [("index", [c.name for c in i.columns]) for i in table.indexes if i.unique]
    return found


def broken_rules(schema: sa.MetaData = metadata) -> dict[str, set[str]]:
    """Each rule and the cases that break it, in `schema` (the tables' metadata, or a
    database's schema as reflected: tests/integration/test_distribution_schema.py)."""
    broken: dict[str, set[str]] = {rule: set() for rule in GAPS}
    for table in schema.sorted_tables:
        if table.name not in BY_PARTNER:
            continue
        if "partner_id" not in table.c:
            broken["partner_id column"].add(table.name)
        for kind, columns in _uniques(table):
            if "partner_id" not in columns:
                label = "primary key (id)" if kind == "primary key" else f"({', '.join(columns)})"
                broken["unique without partner_id"].add(f"{table.name}: {label}")
    for table in schema.sorted_tables:
        for fk in table.foreign_key_constraints:
            target = fk.referred_table.name
            name = f"{table.name}.{fk.column_keys[0]} -> {target}"
            if _placement(target) == "reference":
                continue
            if _placement(table.name) != _placement(target):
                broken["foreign key across placements"].add(name)
            elif _placement(table.name) == "partner" and "partner_id" not in fk.column_keys:
                broken["foreign key without partner_id"].add(name)
    return broken


def test_every_table_is_placed_once() -> None:
    tables = {t.name for t in metadata.sorted_tables}
    placed = [*BY_PARTNER, *REFERENCE, *BY_RISK]
    assert len(placed) == len(set(placed)), "a table placed twice"
    assert set(placed) == tables, (tables - set(placed), set(placed) - tables)


def test_the_schema_keeps_the_distribution_rules_but_for_the_listed_gaps() -> None:
    broken = broken_rules()
    for rule, gaps in GAPS.items():
        new = broken[rule] - gaps
        closed = gaps - broken[rule]
        assert not new, f"{rule}: breaks the rule (docs/scaling.md): {sorted(new)}"
        assert not closed, f"{rule}: kept now: take it off GAPS: {sorted(closed)}"


def test_the_rules_catch_what_they_are_for() -> None:
    """A partner's table with a unique key that forgets partner_id, and a key to a table
    placed by risk, are found (the rules are not a list that merely repeats itself)."""
    extra = sa.MetaData()
    sa.Table("partners", extra, sa.Column("id", sa.String, primary_key=True))
    sa.Table("cover_locks", extra, sa.Column("cover_key", sa.String, primary_key=True))
    probe = sa.Table(
        "policies",
        extra,
        sa.Column("partner_id", sa.String, sa.ForeignKey("partners.id"), primary_key=True),
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("external_ref", sa.String, unique=True),
        sa.Column("lock", sa.String, sa.ForeignKey("cover_locks.cover_key")),
    )
    uniques = [columns for _, columns in _uniques(probe) if "partner_id" not in columns]
    assert uniques == [["external_ref"]] or ["external_ref"] in uniques
    crossing = [
        fk.referred_table.name
        for fk in probe.foreign_key_constraints
        if _placement(fk.referred_table.name) not in ("reference", _placement(probe.name))
    ]
    assert crossing == ["cover_locks"]
