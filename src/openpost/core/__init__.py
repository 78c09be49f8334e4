"""Building blocks with no domain knowledge: database, errors, clock, time formats."""
