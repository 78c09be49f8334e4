"""Posts and their per-account targets."""
