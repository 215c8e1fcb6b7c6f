"""Webhook SQL, split by concept: endpoints (db/webhooks/endpoints.py: CRUD, documents, sealed
secrets), the rules an endpoint must follow on every transport (db/webhooks/rules.py), and
deliveries (db/webhooks/deliveries.py: fan-out, leases, outcomes, replay, the log). The names are
re-exported here, so callers write ``webhooks.get_endpoint(conn, …)`` whichever module holds it."""

from db.webhooks.deliveries import (
    WAKE_CHANNEL,
    Claimed,
    Outcome,
    Recorded,
    attempt_doc,
    claim,
    delivery_doc,
    dispatch,
    get_delivery,
    list_deliveries,
    ping,
    record_many,
    release,
    replay,
    retry_delivery,
    seconds_until_due,
)
from db.webhooks.endpoints import (
    create_endpoint,
    delete_endpoint,
    endpoint_doc,
    get_endpoint,
    list_endpoints,
    reseal,
    rotate_secret,
    signing_secrets,
    update_endpoint,
)

__all__ = [
    "WAKE_CHANNEL",
    "Claimed",
    "Outcome",
    "Recorded",
    "attempt_doc",
    "claim",
    "create_endpoint",
    "delete_endpoint",
    "delivery_doc",
    "dispatch",
    "endpoint_doc",
    "get_delivery",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "ping",
    "record_many",
    "release",
    "replay",
    "reseal",
    "retry_delivery",
    "rotate_secret",
    "seconds_until_due",
    "signing_secrets",
    "update_endpoint",
]
