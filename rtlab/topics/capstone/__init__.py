"""Module 11, the capstone: the course's parts assembled into one app, under a fault schedule."""
