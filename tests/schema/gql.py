"""A tiny GraphQL client for the tests: POST a document to the live server, return the JSON."""

from __future__ import annotations

from typing import Any

import httpx


def gql(
    url: str, query: str | None, variables: dict[str, Any] | None = None, *, expect_status: int = 200, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, "variables": variables or {}, **extra}
    response = httpx.post(url + "/graphql", json=body, timeout=10)
    assert response.status_code == expect_status, response.text
    assert response.status_code < 500
    data: dict[str, Any] = response.json()
    return data


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]
