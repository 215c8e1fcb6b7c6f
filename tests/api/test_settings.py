"""Every setting is an environment variable the configuration page documents, and bad values name their variable."""

from dataclasses import fields
from pathlib import Path

import pytest

from api.settings import DEVELOPMENT_RATE_LIMIT, Settings

CONFIGURATION = (Path(__file__).resolve().parents[2] / "docs" / "operations" / "index.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [f.name.upper() for f in fields(Settings) if f"`{f.name.upper()}`" not in CONFIGURATION]
    assert missing == []


def test_settings_are_parsed_from_the_environment() -> None:
    settings = Settings.from_environ(
        {"PORT": "9000", "ANONYMOUS_READS": "false", "CORS_ORIGINS": "https://a, https://b"}
    )
    assert (settings.port, settings.anonymous_reads, settings.cors_origins) == (9000, False, ("https://a", "https://b"))


def test_a_bad_value_names_its_variable() -> None:
    with pytest.raises(ValueError, match="PORT"):
        Settings.from_environ({"PORT": "eighty"})


def test_development_rate_limits_are_out_of_a_persons_reach() -> None:
    # In development a shell loop, /docs' "Try it" and the explorer all call from one 127.0.0.1:
    # the production limits there silently broke the quickstart (its curl | grep printed nothing).
    development, production = Settings(), Settings(environment="production")
    assert (development.anonymous_rate_limit, development.key_rate_limit) == (DEVELOPMENT_RATE_LIMIT,) * 2
    assert (production.anonymous_rate_limit, production.key_rate_limit) == (60, 600)
    chosen = Settings.from_environ({"RATE_LIMIT_ANONYMOUS": "7", "RATE_LIMIT_KEY": "8"})
    assert (chosen.anonymous_rate_limit, chosen.key_rate_limit) == (7, 8)


def test_database_bounds_are_seconds_of_at_most_five_by_default() -> None:
    defaults = Settings()
    assert 0 < defaults.db_acquire_timeout_s <= 5 and 0 < defaults.db_statement_timeout_s <= 5
    parsed = Settings.from_environ({"DB_ACQUIRE_TIMEOUT_S": "0.5", "DB_STATEMENT_TIMEOUT_S": "2"}).db_timeouts
    assert (parsed.acquire_s, parsed.statement_s) == (0.5, 2.0)
    # PostgreSQL's own statement_timeout fires first, so a healthy server cancels a slow statement.
    assert 0 < parsed.server_statement_ms < 2_000


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_a_database_bound_must_be_a_positive_number_of_seconds(value: str) -> None:
    with pytest.raises(ValueError, match="DB_STATEMENT_TIMEOUT_S"):
        Settings.from_environ({"DB_STATEMENT_TIMEOUT_S": value})


def test_the_deprecated_millisecond_names_still_set_the_bounds_unless_the_new_ones_are_given() -> None:
    old = Settings.from_environ({"DB_STATEMENT_TIMEOUT_MS": "1500", "DB_ACQUIRE_TIMEOUT_MS": "250"})
    assert (old.db_statement_timeout_s, old.db_acquire_timeout_s) == (1.5, 0.25)
    both = Settings.from_environ({"DB_STATEMENT_TIMEOUT_MS": "1500", "DB_STATEMENT_TIMEOUT_S": "3"})
    assert both.db_statement_timeout_s == 3.0
    assert Settings.from_environ({"DB_COMMAND_TIMEOUT_MS": "35000"}) == Settings()
    with pytest.raises(ValueError, match="DB_ACQUIRE_TIMEOUT_MS"):
        Settings.from_environ({"DB_ACQUIRE_TIMEOUT_MS": "-5"})
