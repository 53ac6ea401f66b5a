"""Grading machinery: reports keyed by validation ID, and a safe runner."""

from rtlab.grading.report import Finding, Report
from rtlab.grading.runner import grade_file
from rtlab.learner import LearnerTimeout, time_limit

__all__ = ["Finding", "LearnerTimeout", "Report", "grade_file", "time_limit"]
