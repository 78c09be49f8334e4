"""bluesky."""
