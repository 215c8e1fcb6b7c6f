"""db.errors.from_database, the one translation of what the database layer raises, which REST and
GraphQL both call: outages are UNAVAILABLE (with a retry hint), bugs stay unmapped."""

from __future__ import annotations

import asyncpg
import pytest

from db.errors import (
    HTTP_CODES,
    BadUserInput,
    Conflict,
    NewsfactsError,
    Unavailable,
    code_for_status,
    from_database,
)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),  # 57P01
        asyncpg.exceptions.CrashShutdownError("crash"),  # 57P02
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),  # 57P03
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),  # 53300
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),  # 57014
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.InterfaceError("pool is closing"),
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        FileNotFoundError(2, "No such file or directory"),  # the Unix socket of a stopped server
        TimeoutError(),  # pool.acquire(timeout=…); asyncio.TimeoutError is this class
        # A connection the server cut mid-error (seen in tests/fault when PostgreSQL stops).
        asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    ],
)
def test_outages_are_unavailable_with_a_retry_hint(exc: BaseException) -> None:
    mapped = from_database(exc)
    assert isinstance(mapped, Unavailable) and mapped.status == 503 and mapped.code == "UNAVAILABLE"
    assert mapped.extra["retry_after"] == mapped.retry_after >= 1
    assert str(exc) not in mapped.detail or not str(exc)  # the cause is logged, never shown


def test_data_errors_keep_their_codes_and_bugs_stay_unmapped() -> None:
    assert isinstance(from_database(asyncpg.exceptions.UniqueViolationError("dup")), Conflict)
    assert isinstance(from_database(asyncpg.exceptions.CharacterNotInRepertoireError("nul")), BadUserInput)
    internal = from_database(asyncpg.exceptions.SyntaxOrAccessError("bug"))
    assert isinstance(internal, NewsfactsError) and internal.code == "INTERNAL"
    assert from_database(asyncpg.InterfaceError("cannot perform operation: another operation is in progress")) is None
    assert from_database(KeyError("x")) is None
    same = BadUserInput("x")
    assert from_database(same) is same


def test_one_status_table_for_every_transport() -> None:
    assert code_for_status(400) == code_for_status(422) == "BAD_USER_INPUT"
    assert code_for_status(503) == "UNAVAILABLE" and code_for_status(418) == "HTTP_ERROR"
    assert HTTP_CODES[413] == "PAYLOAD_TOO_LARGE"
