"""Webhooks: Standard Webhooks signing, SSRF-guarded delivery with retries, and the worker that
fans the outbox out to endpoints and delivers it (``newsfacts worker``)."""
