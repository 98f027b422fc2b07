"""Development tooling, not part of the installed package: planted test corpora, the demo run folder, the PDF
router's training set and training, the default quality model's data. Tests, benchmarks and scripts/ use it;
a production run never imports it (docs/ARCHITECTURE.md)."""
