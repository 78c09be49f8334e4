"""Webhooks (SPEC §9.7): a workspace subscribes a URL to events; each event is delivered as a
signed JSON POST, retried with backoff for 24 hours, and every attempt is logged.

- ``models``: subscriptions (``webhooks``, the signing secret sealed at rest), the events
  (``webhook_events``) and one delivery per subscription and event (``webhook_deliveries``).
- ``events.emit``: records an event and its deliveries **in the caller's transaction**, so a
  delivery exists only once what caused it is committed (an outbox): never fired for work
  that rolled back, never lost when the process dies after the commit.
- ``delivery``: claims due deliveries (one process each, however many run), POSTs them
  through the URL guard, and schedules retries.
- ``signing``: the ``OpenPost-Signature`` header and how a receiver checks it.
- ``service`` / ``routes``: ``/v1/webhooks``.
"""
