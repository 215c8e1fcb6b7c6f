"""/graphql, one package per transport: over HTTP, reads the planner can answer go through
endpoint.py (one SQL statement each) and everything else through strawberry's view (view.py),
behind the response cache (api/cache/graphql.py); over WebSocket, ws.py speaks
graphql-transport-ws and shared.py runs identical live subscriptions once. context.py builds
every operation's Context for both. mount.py wires the routes (this file imports nothing, so
that the response cache may import request.py without importing the whole package)."""
