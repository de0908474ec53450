"""The ``Store`` port on SQLAlchemy 2 (async): SQLite for one box, PostgreSQL for many.

``connect()`` builds a store; ``migrate.upgrade()`` brings a database's schema up to date.
"""
