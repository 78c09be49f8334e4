"""facebook."""
