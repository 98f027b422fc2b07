"""The data-quality web UI (`curation ui DIR...`): a read-only view over run folders, plus PDF preference labels.

Everything is read straight from the run folders' manifest.json and Parquet files (DuckDB over the files,
no copy into another database). The only thing the UI writes is `<run>/labels/pdf_preferences.jsonl`.
"""
