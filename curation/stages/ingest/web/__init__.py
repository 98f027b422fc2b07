"""Web ingestion: WARC/WET/ARC and HTML files to documents (framing, HTTP, charset, extraction, routing)."""
