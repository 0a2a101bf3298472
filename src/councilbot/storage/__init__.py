"""Async storage: the port the core will await, with TinyDB and PostgreSQL behind it (see ``port``)."""
