"""OpenPost Analytics: social-post engagement snapshots behind an OpenPost-compatible API."""

__version__ = "0.1.0"
