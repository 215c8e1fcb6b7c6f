"""Every setting is an environment variable the README documents, and bad values name their variable."""

from dataclasses import fields
from pathlib import Path

import pytest

from api.settings import DEVELOPMENT_RATE_LIMIT, Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    missing = [f.name.upper() for f in fields(Settings) if f"`{f.name.upper()}`" not in README]
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
