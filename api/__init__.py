"""The newsfacts ASGI application: settings, embedded services, REST, GraphQL, events, webhooks, CLI."""
