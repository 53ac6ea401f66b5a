"""Module 02, Server-Sent Events that resume after a drop or a restart."""
