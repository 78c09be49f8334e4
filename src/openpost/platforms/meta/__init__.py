"""What Meta's three platforms (Threads, Instagram, Facebook Pages) share: the Graph API's
error JSON and usage headers (``graph``), and the fakes' side of both (``fake_graph``).
Each platform keeps its own client, consent and fake in its own folder."""
