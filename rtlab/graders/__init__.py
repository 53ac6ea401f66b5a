"""One grader module per exercise; each exposes ``grade(module, *, seeds=None) -> Report``."""
