"""Module 05, connection health: heartbeats over half-open links and idle proxies."""
