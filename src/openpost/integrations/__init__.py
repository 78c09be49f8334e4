"""Connected platform accounts ("integrations")."""
