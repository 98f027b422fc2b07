"""The normalize stage (stage.py)."""
