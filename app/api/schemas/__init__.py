"""Pydantic schemas, one module per resource: what clients send (``*Create``)
and what they read (``*Read``, ``*Detail``). ORM objects never leave the API."""
