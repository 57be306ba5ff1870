"""paydesk's Alembic environment and revision scripts (run them through ``paydesk.db.migrate``)."""
