"""Collection: which targets are due (``tiers``, ``planner``), reading them through
``platforms`` and writing snapshots and refresh state (``capture``), and the jobs that
drive it (``tasks``). The only package that calls ``platforms``."""
