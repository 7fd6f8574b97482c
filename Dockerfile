# syntax=docker/dockerfile:1
# district-rollover: one image for the operator (`rollover operator`) and its Jobs (`rollover-job`).
#   docker build -t district-rollover:dev .
# Base images are pinned by version; pin them by digest too (FROM python:...@sha256:...) in your
# registry mirror for fully reproducible builds.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: a virtualenv with the pinned dependencies and the package -----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependencies first (a layer that survives source edits): the runtime requirements of
# pyproject.toml and its s3 extra (the Jobs archive to object stores), every version constrained by
# requirements.lock (the lock also pins dev tools, which are not installed).
COPY pyproject.toml requirements.lock ./
RUN python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["s3"]))' \
      > runtime-requirements.txt \
 && pip install --no-cache-dir --constraint requirements.lock --requirement runtime-requirements.txt
COPY README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir --no-deps . \
 && python -m compileall -q /opt/venv/lib

# --- runtime --------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="district-rollover" \
      org.opencontainers.image.description="Kubernetes operator for the yearly K-12 roster rollover: pause roster sync, archive, reset, resume." \
      org.opencontainers.image.source="https://github.com/k12-dev/district-rollover" \
      org.opencontainers.image.documentation="https://github.com/k12-dev/district-rollover#readme" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"

# psql carries the archive's COPY (rollover-job); Debian's client of the roster store's major version.
# Bump the pin with the base image (apt-cache policy postgresql-client-15 shows the current one).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15=15.20-0+deb12u1 \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric non-root user, so runAsNonRoot can verify it without a name lookup.
RUN groupadd --system --gid 10001 rollover \
 && useradd --system --uid 10001 --gid rollover --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin rollover
COPY --from=build /opt/venv /opt/venv
# Read-only root filesystem: nothing is written at run time except /tmp (an emptyDir in the chart)
# and the termination log; byte code was compiled at build time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
ENTRYPOINT ["rollover"]
CMD ["operator", "--all-namespaces"]
