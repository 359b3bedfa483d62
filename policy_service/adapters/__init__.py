"""Implementations of what the services need: database tables and repositories."""
