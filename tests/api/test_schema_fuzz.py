"""Schemathesis against the served OpenAPI schema, over real HTTP: generated requests (bounded) to every operation
never get a 500, and every response matches the schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from api.models import ApiToken
from tests.access.test_rules import tree  # noqa: F401  (fixture)
from tests.api.conftest import people  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = 8  # per operation: bounded so the suite stays fast; the point is coverage of every operation


@pytest.mark.parametrize("who", ["root", "dev"])
def test_generated_requests_never_500_and_match_the_schema(live_server, people, who):  # noqa: F811
    _, key = ApiToken.issue(people[who], "fuzz", read_only=True)  # generated POSTs must not change anything
    headers = {"Authorization": f"Bearer {key}"}
    import requests

    served = requests.get(f"{live_server.url}/api/schema/", headers={**headers, "Accept": "application/json"},
                          timeout=30)
    assert served.status_code == 200
    schema = schemathesis.openapi.from_dict(served.json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(base_url=live_server.url, headers=headers,
                                   checks=[not_a_server_error, response_schema_conformance, content_type_conformance])

        check()
