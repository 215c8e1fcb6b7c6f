"""newsfacts' PostgreSQL layer: migrations, the write service, queries and loaders. The only place SQL lives."""
