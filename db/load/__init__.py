"""The bulk loader's set-based write path: each batch is COPied into a staging table, checked
against the database in one statement, and its good records inserted in one statement per kind,
with their revisions, history and events (db/bulk.py reads the input and makes the batches)."""
