"""The read stage (stage.py)."""
