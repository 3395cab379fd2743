"""Alembic migrations shipped in the package; one branch per service, all depending on core."""
