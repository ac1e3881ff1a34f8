"""The app against its own OpenAPI schema: schemathesis generates requests for every route (#12).

Every generated request must get a documented status with a documented body and content type, and
never a 5xx. Runs in-process on the ASGI app, a bounded number of examples per route.
"""

from __future__ import annotations

from pathlib import Path

import hypothesis
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis.checks import positive_data_acceptance
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from tests.integration.web_support import load_papers, make_web

EXAMPLES_PER_ROUTE = 25
PERIODS = ("date", "week", "month")


def keep_documented_rules(case: schemathesis.Case) -> schemathesis.Case:
    """Two rules the descriptions state and OpenAPI cannot: at most one of date, week and month;
    since no later than until. A request breaking them is rightly a 400."""
    query = case.query
    if isinstance(query, dict):
        for name in [n for n in PERIODS if n in query][1:]:
            del query[name]
        since, until = query.get("since"), query.get("until")
        if isinstance(since, str) and isinstance(until, str) and since > until:
            query["since"], query["until"] = until, since
    return case


def test_every_route_keeps_to_its_schema(
    settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    load_papers(engine, fixture_data, tmp_path / "data")
    web = make_web(settings, engine)
    app = web.app
    # The first search loads the model and builds the keyword index: seconds that, on a loaded
    # machine (load 15-22 on two cores), ran past the 10 s a schemathesis request may take (#16).
    assert web.get("/api/papers/search?q=warm").status_code == 200
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy().map(keep_documented_rules))
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_ROUTE,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def keeps_to_schema(case: schemathesis.Case) -> None:
            # 60 s, not schemathesis's 10: this checks shapes, not speed, and a search on two cores
            # shared by seven test runs (load 15-22) has taken longer (#16).
            response = case.call(timeout=60)
            # Two more rules OpenAPI cannot state: a well-formed category or author that no stored
            # paper has is a 400 naming it (#14); so is a cursor this server did not give out (#16).
            # Every other check still holds for that response.
            unknown = response.status_code == 400 and (
                "no paper here" in response.text or "cursor is not one this server gave out" in response.text
            )
            case.validate_response(response, excluded_checks=[positive_data_acceptance] if unknown else None)

        keeps_to_schema()
