"""Turning raw inputs (WARC/WET/ARC, HTML, PDF) into documents."""
