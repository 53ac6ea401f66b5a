"""One package per course module, each holding everything that is its own.

A module's folder has the typed Protocol of what the learner implements
(``interface.py``), its live servers and clients (``live.py``), its seeded
simulations (``sim.py``), its grader (``grader.py``) and, where it has one, its
benchmark (``bench()`` in the module named by ``course.toml``). Engines
(:mod:`rtlab.sim`, :mod:`rtlab.live`, :mod:`rtlab.grading`, :mod:`rtlab.learner`,
:mod:`rtlab.wire`, :mod:`rtlab.plots`) never import a topic, and no topic imports
another; ``tests/test_layout.py`` keeps it so.
"""
