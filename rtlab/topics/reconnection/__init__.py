"""Module 04, reconnection: backoff, jitter and the thundering herd."""
