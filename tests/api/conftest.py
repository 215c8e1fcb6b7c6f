"""Fixtures shared by tests/api modules (defined next to their helpers, registered here)."""

from tests.api.browser import chromium, tabs
from tests.api.cached_server import cached_server
from tests.api.history import resolvers
from tests.api.webhook_receiver import wh_admin, wh_api, wh_client, wh_receiver, wh_settings

__all__ = [
    "cached_server", "chromium", "resolvers", "tabs", "wh_admin", "wh_api", "wh_client", "wh_receiver", "wh_settings",
]  # fmt: skip
