"""Module 07, ordering and rooms: sequence numbers, backfill on join, resume, vector clocks."""
