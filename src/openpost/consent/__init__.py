"""Connecting accounts with their owner's consent (OAuth 2.0), for every platform alike.

- ``models``: ``OAuthAttempt``, one consent round trip in progress (``oauth_attempts``).
- ``providers``: which platforms offer consent (their ``platforms.consent.OwnerConsent``)
  and the URL slug of each.
- ``security``: state, its hash, PKCE verifiers and challenges.
- ``service``: starting and finishing a round trip (``start``, ``finish``) and the failure
  codes the dashboard turns into sentences.
- ``tokens``: what is sealed for an owner's connection, and renewing it before it expires
  or after the platform rejects it (``OwnerTokens``: the row-locked, rotation-safe refresh).

The dashboard's routes (``/integrations/{platform}/connect`` and ``/callback``) only call
these; the platform-specific part lives with each platform.
"""
