"""The GraphQL read planner's GraphQL half: documents compiled to plans (compile.py, fields.py) and run as one SQL statement per request (run.py)."""
