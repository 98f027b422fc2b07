"""Text utilities shared by stages (normalisation, token counting)."""
