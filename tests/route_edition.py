"""A product written for the tests of derived values looked up in tables, in a folder of
the test's own (never one of the shipped products): a flight's route band is looked up
by its origin and destination, its distance too, a cabin weight by the cabin and that
band (a table with no default, complete), a member discount by an optional input; the
looked-up values feed later derived values, eligibility, factors, the cover and a claim
rule."""

from __future__ import annotations

import shutil
from pathlib import Path

from pricing.loader import load_product
from pricing.model import Edition
from tests.edition_files import PRODUCTS

CODE = "route_cover"
EDITION = "2026-01"

PRODUCT_YAML = """\
code: route_cover
name: Route cover
name_zh: 航线险
description: A test product whose route band is looked up.
policyholder: none
"""

EDITION_YAML = """\
effective_from: 2026-01-01T00:00:00+08:00
currency: CNY
timezone: Asia/Shanghai
quote_valid_minutes: 30
inputs:
  carrier: {type: string, pattern: "^[A-Z0-9]{2}$"}
  flight_number: {type: string, pattern: "^[A-Z0-9]{2}[0-9]{1,4}[A-Z]?$"}
  origin: {type: string, pattern: "^[A-Z]{3}$"}
  destination: {type: string, pattern: "^[A-Z]{3}$"}
  scheduled_departure: {type: datetime}
  cabin: {type: string, enum: [economy, business]}
  frequent_flyer: {type: boolean, required: false}
derived:
  route_band:
    lookup: [origin, destination]
    table: routes.csv
    default: regional
    type: string
    enum: [domestic_trunk, regional, international]
  distance_km:
    lookup: [origin, destination]
    table: distances.csv
    default: 900
    type: integer
    minimum: 0
    maximum: 20000
  cabin_weight:
    lookup: [cabin, route_band]
    table: cabin_weights.csv
    type: decimal
    minimum: "0.5"
  member_discount:
    lookup: frequent_flyer
    table: members.csv
    default: "0.00"
    type: decimal
  hours_to_departure: {expr: "hours_between(now, scheduled_departure)", type: decimal}
  long_haul:
    expr: distance_km >= 2000 or route_band == "international"
    type: boolean
eligibility:
  - code: departure_too_soon
    refuse_when: hours_to_departure < 2
    message: Sales close two hours before the departure.
  - code: same_airport
    refuse_when: origin == destination
    message: Origin and destination must differ.
  - code: too_far
    refuse_when: distance_km > 9000
    message: Too far.
  - code: too_heavy
    refuse_when: cabin_weight > 2.5
    message: Not sold for this cabin on this route.
coverage:
  starts: scheduled_departure
  ends: scheduled_departure + days(3) if long_haul else scheduled_departure + days(2)
  benefits:
    - {code: delay, description: Delayed two hours or more, amount: "300.00"}
rating:
  base: "10.00"
  factors:
    - name: route
      lookup: route_band
      table: route_factor.csv
    - name: cabin_route
      lookup: [cabin, route_band]
      table: cabin_route.csv
      default: "1.00"
  loadings:
    - {name: long_haul, rate: "0.15", when: long_haul}
    - {name: non_member, amount: "1.00", when: member_discount == 0}
  minimum: "5.00"
  maximum: "60.00"
  rounding: {step: "0.10", mode: half_up}
  tax: {name: VAT, rate: "0.06", basis: inclusive}
  commission: {rate: "0.10"}
cancellation:
  - refund: none
    description: Never
claims:
  - code: delay
    trigger: flight.status
    match: [carrier, flight_number, scheduled_departure]
    when: status != "cancelled" and delay_minutes >= 120
    payout: 300 if route_band == "international" else 100 * cabin_weight
    description: Delayed two hours or more
example_risk:
  carrier: MU
  flight_number: MU5101
  origin: SHA
  destination: PEK
  scheduled_departure: "2030-01-01T08:00:00+08:00"
  cabin: economy
"""

TABLES = {
    "routes.csv": """\
# the band of a route, by its two airports (a route not listed is regional)
origin,destination,value
SHA,PEK,domestic_trunk
PEK,SHA,domestic_trunk
SHA,CAN,domestic_trunk
CAN,SHA,domestic_trunk
SHA,NRT,international
PEK,LHR,international
CAN,LHR,international
""",
    # the columns in another order than the lookup's: they are matched by name
    "distances.csv": """\
value,origin,destination
1080,SHA,PEK
1080,PEK,SHA
1210,SHA,CAN
1770,SHA,NRT
8150,PEK,LHR
9520,CAN,LHR
""",
    "cabin_weights.csv": """\
cabin,route_band,value
economy,domestic_trunk,1.0
economy,regional,1.00
economy,international,1.2
business,domestic_trunk,2.0
business,regional,1.8
business,international,2.6
""",
    "members.csv": """\
frequent_flyer,value
true,0.05
false,0
""",
    "route_factor.csv": """\
route_band,factor
domestic_trunk,0.90
regional,1.00
international,1.60
""",
    "cabin_route.csv": """\
cabin,route_band,factor
business,domestic_trunk,2.10
business,regional,2.40
""",
}

TESTS_YAML = """\
- name: a trunk route in economy
  quoted_at: 2026-12-01T00:00:00Z
  risk:
    carrier: MU
    flight_number: MU5101
    origin: SHA
    destination: PEK
    scheduled_departure: "2030-01-01T08:00:00+08:00"
    cabin: economy
  expect: {total: "10.00"}
"""


def write_route_product(root: Path, **files: str) -> Path:
    """The product under `root`, with any of its edition's files (edition_yaml, or a
    table's name such as routes_csv) replaced by the text given; its edition folder."""
    product = root / CODE
    folder = product / "editions" / EDITION
    folder.mkdir(parents=True, exist_ok=True)
    # the trigger types its claim rules react to sit beside it, as in products/
    shutil.copytree(PRODUCTS / "triggers", root / "triggers", dirs_exist_ok=True)
    (product / "product.yaml").write_text(PRODUCT_YAML)
    (product / "tests.yaml").write_text(TESTS_YAML)
    texts = {"edition.yaml": EDITION_YAML, **TABLES}
    for key, text in files.items():
        name = "edition.yaml" if key == "edition_yaml" else key.replace("_csv", ".csv")
        texts[name] = text
    for name, text in texts.items():
        (folder / name).write_text(text)
    return folder


def route_edition(root: Path) -> Edition:
    """The product's one edition, loaded from `root` (written there first)."""
    write_route_product(root)
    return load_product(root / CODE, root).editions[0]
