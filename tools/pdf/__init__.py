"""The PDF router's training data: synthetic and degraded PDFs with known text, measured parser outputs, and
the training of the accuracy and cost heads (`python -m tools.pdf_router`)."""
