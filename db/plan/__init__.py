"""The GraphQL read planner's database half: plan nodes (tree.py), where objects read their keys (sources.py), and the SQL a planned request runs (sql.py)."""
