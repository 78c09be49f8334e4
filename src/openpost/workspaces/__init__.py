"""Workspaces, the people in them and their roles."""
