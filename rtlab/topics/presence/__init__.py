"""Module 06, presence: grace periods, tombstones and heartbeat TTLs."""
