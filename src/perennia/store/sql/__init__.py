"""The SQL metadata store (SQLite and PostgreSQL through SQLAlchemy Core)."""
