"""Benchmarks of the analytics read path: ``python -m bench --help``.

Seeds a database through the real schema (``bench.seed``), starts the real service under
uvicorn on a loopback port (``bench.server``), and measures the API beside the same SQL
run directly through the database driver (``bench.api``, ``bench.export``).
"""
