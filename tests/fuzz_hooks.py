"""schemathesis hooks for tests/integration/test_fuzz.py (loaded by SCHEMATHESIS_HOOKS).

gunicorn refuses a request line over 4,094 bytes itself, with 414 and an HTML page,
before the application sees it: such a request tests gunicorn, not the API and its spec.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import schemathesis

#: the URI's share of gunicorn's request-line limit ("GET ", " HTTP/1.1" and room to spare)
LONGEST_URI = 3_800


@schemathesis.hook
def filter_case(ctx: Any, case: Any) -> bool:
    query = urlencode(case.query or {}, doseq=True)
    return len(quote(case.formatted_path, safe="/")) + len(query) + 1 <= LONGEST_URI
