"""youtube."""
