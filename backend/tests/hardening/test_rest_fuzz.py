"""The REST endpoints under schemathesis: positive and negative cases from the app's own
OpenAPI document, sent to a real server over HTTP, operation by operation (with and
without a valid access token).

A 5xx answer, or an answer that does not match the documented schema of its
status, fails the test. NUL characters are left out of the generated strings:
on PostgreSQL they are a reported bug (a 500 from the database driver, see
test_findings.py), which would otherwise make this test fail at random there.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import RunningServer, create_account
from tests.hardening.conftest import CONCURRENT_RANDOM, HARDENING, examples

pytestmark = [pytest.mark.slow, CONCURRENT_RANDOM]


async def test_rest_endpoints_answer_every_generated_request_within_their_schema(
    server: RunningServer, http: httpx.AsyncClient, figures: dict[str, Any]
) -> None:
    who = await create_account(http)
    schema = await asyncio.to_thread(
        schemathesis.openapi.from_url, f"{server.url}/api/v1/openapi.json", timeout=10
    )
    schema.config.generation.update(allow_x00=False)
    statuses: Counter[str] = Counter()
    undocumented: dict[str, set[int]] = {}
    local = threading.local()
    spent = {"calls": 0.0}

    def fuzz(operation: Any) -> None:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @settings(HARDENING, max_examples=examples(60))
        @given(case=st.deferred(lambda: cases), signed_in=st.booleans())
        def run(case: Any, signed_in: bool) -> None:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            headers = {"Authorization": f"Bearer {who.token}"} if signed_in else None
            started = time.monotonic()
            response = case.call(
                base_url=server.url, session=local.session, headers=headers, timeout=10
            )
            spent["calls"] += time.monotonic() - started
            key = f"{case.method.upper()} {case.path}"
            statuses[f"{key} {response.status_code}"] += 1
            if str(response.status_code) not in case.operation.definition.raw.get("responses", {}):
                undocumented.setdefault(key, set()).add(response.status_code)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance], headers=headers
            )

        run()

    started = time.monotonic()
    for result in schema.get_all_operations():
        await asyncio.to_thread(fuzz, result.ok())
    figures.update(
        {
            "requests_sent": statuses.total(),
            "operations": len({key.rsplit(" ", 1)[0] for key in statuses}),
            "by_status": dict(sorted(statuses.items())),
            "undocumented_statuses": {
                key: sorted(codes) for key, codes in sorted(undocumented.items())
            },
            "seconds": round(time.monotonic() - started, 1),
            "seconds_in_requests": round(spent["calls"], 1),
        }
    )
