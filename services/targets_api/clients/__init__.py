"""Typed HTTP clients for the peers targets_api reads from."""
