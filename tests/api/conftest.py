"""Fixtures shared by tests/api modules (defined next to their helpers, registered here)."""

from tests.api.webhook_receiver import wh_admin, wh_api, wh_client, wh_receiver, wh_settings

__all__ = ["wh_admin", "wh_api", "wh_client", "wh_receiver", "wh_settings"]
