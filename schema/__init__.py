"""newsfacts' GraphQL schema: strawberry types over the db layer. Imports db/, never api/."""
