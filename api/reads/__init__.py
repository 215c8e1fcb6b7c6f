"""Read routing: read-only work on streaming replicas (DATABASE_REPLICA_URLS), with
read-your-writes through consistency tokens. ``router`` chooses, ``middleware`` applies it per
request, ``context`` carries a request's token and outcome."""
