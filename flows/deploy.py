"""Deployments: the incremental flow on a cron schedule, served by a long-running process.

    python -m flows.deploy --config configs/incremental.yaml --landing 'landing/*.jsonl' \
        --corpus corpus/ --cron '0 * * * *'

We use `serve` (the process that registers the deployment also executes its runs) rather than a work
pool: it needs no extra infrastructure, runs the flow where Spark and the data are, and the same code
runs in the `prefect-worker` container of docker-compose.yml. `concurrency_limit=1` stops Prefect from
starting a run while one is still running; the corpus lock guards runs started any other way.
"""

from __future__ import annotations

import argparse

from prefect import serve

from flows.curate import curate
from flows.incremental import curate_incremental


def deployments(config: str, landing: list[str], corpus: str, cron: str | None, min_age_seconds: float = 0.0,
                name: str = "incremental"):
    incremental = curate_incremental.to_deployment(
        name=name,
        cron=cron,
        parameters={"landing": landing, "corpus": corpus, "config": config, "min_age_seconds": min_age_seconds},
        concurrency_limit=1,
        description="Curate files that arrived in the landing area since the last successful run.",
        tags=["curation"],
    )
    manual = curate.to_deployment(name="manual", parameters={"config": config},
                                  description="Run the whole pipeline once over the configured inputs.")
    return [incremental, manual]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--landing", nargs="+", required=True, help="landing folder(s) or glob(s)")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--cron", default="0 * * * *", help="schedule of the incremental run (default hourly)")
    ap.add_argument("--min-age-seconds", type=float, default=60.0,
                    help="ignore files modified more recently than this (still being written)")
    ap.add_argument("--name", default="incremental")
    a = ap.parse_args(argv)
    serve(*deployments(a.config, a.landing, a.corpus, a.cron, a.min_age_seconds, a.name))


if __name__ == "__main__":
    main()
