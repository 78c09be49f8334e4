"""Retention: thinning readings older than a cutoff, each run recorded (SPEC §9.9)."""
