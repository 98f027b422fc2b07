"""One way to get a Spark session: local[*] on a laptop, unchanged under spark-submit on a cluster."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING

from curation.config import SparkConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def under_spark_submit() -> bool:
    """spark-submit starts the Python driver with a gateway already open; its master and conf win."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_spark(cfg: SparkConfig | None = None) -> SparkSession:
    from pyspark.sql import SparkSession

    cfg = cfg or SparkConfig()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if not under_spark_submit():
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(cfg.app_name)
    master = os.environ.get("CURATION_SPARK_MASTER") or cfg.master
    if master:
        builder = builder.master(master)
    elif not under_spark_submit():
        builder = builder.master("local[*]")
    if not under_spark_submit():
        from curation import resources

        java_opts = f"-Dlog4j2.configurationFile=file:{resources.path('log4j2.properties')}"
        builder = (
            builder.config("spark.driver.memory", cfg.driver_memory)
            .config("spark.driver.extraJavaOptions", java_opts)
            .config("spark.ui.enabled", "false")
        )
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(cfg.shuffle_partitions),
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(cfg.max_records_per_batch),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.parquet.compression.codec": "zstd",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.enabled": "true",
        "spark.python.worker.reuse": "true",
        "spark.executorEnv.PYSPARK_PYTHON": os.environ["PYSPARK_PYTHON"],
    }
    settings.update(cfg.conf)
    for k, v in settings.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(cfg.log_level)
    return spark


class Progress:
    """A one-line display of running Spark stages on stderr, so long work shows it is moving."""

    def __init__(self, spark: SparkSession, label: str, enabled: bool = True, interval: float = 2.0):
        self.spark, self.label, self.interval = spark, label, interval
        self.enabled = enabled and sys.stderr.isatty()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
            sys.stderr.write("\r\033[K")

    def _loop(self) -> None:
        tracker = self.spark.sparkContext.statusTracker()
        start = time.time()
        while not self._stop.wait(self.interval):
            parts = []
            for sid in tracker.getActiveStageIds():
                info = tracker.getStageInfo(sid)
                if info:
                    parts.append(f"stage {sid}: {info.numCompletedTasks}/{info.numTasks}")
            sys.stderr.write(f"\r\033[K[{self.label} {time.time() - start:5.0f}s] {'; '.join(parts)[:100]}")
            sys.stderr.flush()
