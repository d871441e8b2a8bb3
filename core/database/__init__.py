"""The configuration database: engines, sessions, migrations and sample data."""
