"""Module 01, choosing a transport: polling, long polling, SSE or WebSocket."""
