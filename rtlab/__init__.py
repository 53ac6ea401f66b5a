"""rtlab: the support package of the real-time engineering course.

Notebooks use ``await rtlab.check("reconnection")`` to grade an exercise,
``rtlab.live`` for servers and clients in the kernel, ``rtlab.sim`` for the
seeded virtual-time network, and ``rtlab.plots`` for figures.
"""

from rtlab.checking import check
from rtlab.grading.report import Finding, Report

__all__ = ["Finding", "Report", "check"]
__version__ = "0.1.0"
