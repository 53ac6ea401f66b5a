"""The real parts of module 10 (redis-server, HAProxy): they live in :mod:`rtlab.live.parts`,
an engine, since the capstone starts them too; this name stays for module 10's code."""

from rtlab.live.parts import HAProxy, RedisServer, free_port, missing

__all__ = ["HAProxy", "RedisServer", "free_port", "missing"]
