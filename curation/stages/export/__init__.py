"""The export stage (stage.py)."""
