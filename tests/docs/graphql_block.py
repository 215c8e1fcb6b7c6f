"""Sends one GraphQL block of the docs to the test server, as a reader pastes it into GraphiQL:
``python -m tests.docs.graphql_block [--as write] [--vars JSON] [--save NAME=path] FILE``. Prints
the answer; exits 1 when it carries errors or non-empty userErrors. ``--save`` appends
``NAME=value`` to $DOCS_STATE/saved.sh, which the page's shell sources for its next blocks."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import httpx

KEYS = {"anonymous": None, "read": "READ", "write": "KEY", "admin": "ADMIN"}


def refused(answer: Any) -> bool:
    """A GraphQL error anywhere at the top, or a payload's userErrors that are not empty."""
    if isinstance(answer, dict):
        if answer.get("errors"):
            return True
        if answer.get("userErrors"):
            return True
        return any(refused(v) for v in answer.values())
    if isinstance(answer, list):
        return any(refused(v) for v in answer)
    return False


def dig(answer: dict[str, Any], path: str) -> Any:
    value: Any = answer["data"]
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--as", dest="scope", default="")
    parser.add_argument("--vars", default="{}")
    parser.add_argument("--save", action="append", default=[])
    parser.add_argument("file")
    args = parser.parse_args(argv)
    document = Path(args.file).read_text()
    scope = args.scope or ("write" if document.lstrip().startswith("mutation") else "anonymous")
    variables = json.loads(os.path.expandvars(args.vars))
    headers = {}
    if KEYS[scope]:
        headers["Authorization"] = f"Bearer {os.environ[KEYS[scope]]}"
    answer = httpx.post(
        os.environ["API"] + "/graphql", json={"query": document, "variables": variables}, headers=headers, timeout=30
    ).json()
    print(json.dumps(answer, ensure_ascii=False))
    with open(Path(os.environ["DOCS_STATE"]) / "saved.sh", "a") as saved:
        for spec in args.save:
            name, _, path = spec.partition("=")
            saved.write(f"{name}={shlex.quote(str(dig(answer, path)))}\n")
    return 1 if refused(answer) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
