"""Accounts (SPEC §9.4): each connected account's own counters over time."""
