"""Module 03, WebSocket basics: frames, close codes and limits."""
