"""Database access: tables, engine setup, migrations and the unit of work."""
