"""Platform clients behind one Protocol. Only ``refresh`` calls this package; it never
touches the database."""
