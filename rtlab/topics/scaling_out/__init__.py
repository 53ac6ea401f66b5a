"""Module 10, scaling out: several servers, a Redis backplane, sticky sessions."""
