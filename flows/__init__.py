"""Prefect flows over the curation pipeline: `curate` (whole pipeline, a task per stage), per-stage flows,
and the scheduled incremental run (`flows.incremental`, deployed by `flows.deploy`)."""
