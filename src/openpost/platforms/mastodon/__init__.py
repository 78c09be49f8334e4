"""mastodon."""
