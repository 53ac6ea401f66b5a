"""rtlab: the support package of the real-time engineering course."""

__version__ = "0.1.0"
