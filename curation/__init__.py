"""curation: a Spark-native data-curation pipeline for LLM pre-training corpora."""

__version__ = "0.1.0"
