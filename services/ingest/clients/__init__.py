"""Typed HTTP clients for the peers ingest reads from."""
