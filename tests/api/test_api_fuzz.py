"""Schemathesis against the served OpenAPI spec: whatever it sends, no 5xx (bounded examples)."""

from __future__ import annotations


import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

KEY = "fuzz-key"
MAX_EXAMPLES = 50


@pytest.fixture(scope="module")
def fuzz_server(serve_copy):
    with serve_copy(api_key=KEY) as server:
        yield server


def test_no_server_errors(fuzz_server):
    """Every operation, MAX_EXAMPLES generated requests each (with the write key, so writes run too)."""
    from hypothesis import given

    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    calls = {"n": 0}
    statuses: dict[str, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            response = case.call(headers={"X-API-Key": KEY}, timeout=30)
            calls["n"] += 1
            statuses[f"{case.method} {operation.path} {response.status_code}"] = statuses.get(f"{case.method} {operation.path} {response.status_code}", 0) + 1
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")
            if response.status_code >= 400:
                error = response.json()["error"]
                assert error["code"] and error["message"]

        check()
    assert any(key.endswith(" 200") for key in statuses) and "POST /products 201" in statuses, statuses
    assert calls["n"] >= 5 * len(operations)
    with fuzz_server.client(None) as c:  # the catalogue is still whole and searchable
        assert c.get("/healthz").json()["status"] == "ok"
