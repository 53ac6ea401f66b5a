"""Module 08: backpressure and fan-out (slow clients, bounded outboxes, broadcast cost, cursors)."""
