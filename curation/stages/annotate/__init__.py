"""Annotation building blocks: language id, heuristic rule sets, the fastText quality classifier, tokenizer.

Each module does one job and works on whole Arrow arrays or lists of texts, so the annotate stage
(curation/stages/annotate/stage.py) can call them per record batch and tests can call them without Spark.
Heavy imports (fasttext, tokenizers) happen inside functions, never at import time.
"""
