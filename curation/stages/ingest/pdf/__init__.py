"""PDF ingestion: parsers behind one interface and an AdaParse-style router under a compute budget."""
