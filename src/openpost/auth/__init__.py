"""API keys (bearer auth for /v1), idempotency records and per-key rate limits."""
