"""The `curate` flow: the configured pipeline as Prefect tasks, one Spark job per stage.

Prefect orchestrates; the data never passes through it. Resume comes from the run folder itself: the
manifest records finished stages by key, so a retried task or a re-run flow starts at the stage that
failed. Each task retries transient failures (a lost executor, a Py4J hiccup) before the flow fails.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from curation.config import load_config
from curation.engine.runner import plan_stages, run_pipeline
from curation.io import fs
from curation.io import run_folder as RF


@task(retries=2, retry_delay_seconds=5, task_run_name="stage-{stage}")
def run_stage(config_path: str | None, overrides: list[str], inputs: list[str] | None, output: str | None,
              stage: str) -> dict[str, Any]:
    """Run the pipeline up to and including `stage` (earlier finished stages are reused from the manifest)."""
    cfg = load_config(config_path, overrides)
    manifest = run_pipeline(cfg, inputs=inputs, out_dir=output, until=stage)
    entry = next(s for s in reversed(manifest["stages"]) if s["name"] == stage)
    return {k: entry.get(k) for k in ("name", "docs", "tokens", "reasons", "seconds", "documents", "ledger", "rejected")}


def publish_funnel(entries: list[dict[str, Any]], run_dir: str) -> None:
    """Prefect artifacts: the funnel per stage and links to what the run wrote."""
    rows = []
    for e in entries:
        d, t = e.get("docs") or {}, e.get("tokens") or {}
        top = ", ".join(f"{k} ({v['docs']})" for k, v in list((e.get("reasons") or {}).items())[:3])
        rows.append({"stage": e["name"], "docs in": d.get("in"), "kept": d.get("kept"), "dropped": d.get("dropped"),
                     "quarantined": d.get("quarantined"), "tokens in": t.get("in"), "tokens kept": t.get("kept"),
                     "top drop reasons": top or "-"})
    create_table_artifact(rows, key="curation-funnel", description=f"Documents and tokens per stage of {run_dir}")
    links = [f"- manifest: `{RF.manifest_path(run_dir)}`", f"- documents: `{RF.documents_dir(run_dir)}`"]
    links += [f"- {e['name']} ledger: `{fs.join(run_dir, e['ledger'])}`" for e in entries if e.get("ledger")]
    links += [f"- {e['name']} rejected: `{fs.join(run_dir, e['rejected'])}`" for e in entries if e.get("rejected")]
    create_markdown_artifact("## Outputs\n\n" + "\n".join(links) + f"\n\nBrowse: `curation ui {run_dir}`",
                             key="curation-outputs", description="Where the run's shards, ledger and manifest are")


@flow(name="curate", log_prints=True)
def curate(config: str | None = None, inputs: list[str] | None = None, output: str | None = None,
           overrides: list[str] | None = None) -> dict[str, Any]:
    """ingest/read -> ... -> export, as configured in `config` (YAML); returns the funnel per stage."""
    overrides = list(overrides or [])
    cfg = load_config(config, overrides)
    out = output or cfg.output.dir
    if not out:
        raise ValueError("no output folder: set output.dir in the config or pass output=")
    logger = get_run_logger()
    entries = []
    for stage in plan_stages(cfg.pipeline.stages):
        entry = run_stage(config, overrides, inputs, out, stage)
        logger.info("%s: %s", stage, entry["docs"])
        entries.append(entry)
    publish_funnel(entries, fs.spark_path(out))
    return {"output": fs.spark_path(out), "stages": entries}


@flow(name="curate-stage", log_prints=True)
def curate_stage(stage: str, inputs: list[str], output: str, config: str | None = None,
                 overrides: list[str] | None = None) -> dict[str, Any]:
    """One stage alone over documents (the flow twin of `curation STAGE --input ... --output ...`)."""
    overrides = [*(overrides or []), f"pipeline.stages=[{stage}]"]
    entries = [run_stage(config, overrides, inputs, output, s) for s in plan_stages([stage])]
    publish_funnel(entries, fs.spark_path(output))
    return {"output": fs.spark_path(output), "stages": entries}


if __name__ == "__main__":
    import sys

    print(curate(config=sys.argv[1], output=sys.argv[2] if len(sys.argv) > 2 else None))
