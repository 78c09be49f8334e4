"""Snapshots, refresh state, and the read side: the analytics API and CSV export."""
