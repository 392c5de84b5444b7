# The build stage installs the package and its dependencies into /opt/venv; the runtime stage copies
# only that virtual environment and the SQL migrations onto a fresh slim image, without pip's cache,
# the source tree or any compiler.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
# Every dependency ships binary wheels for linux/amd64 and linux/arm64, so no compiler is needed
# here either. NOTE: another platform may need build-essential in this stage.
COPY pyproject.toml README.md ./
COPY sequence_cron ./sequence_cron
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM ${PYTHON_IMAGE} AS runtime
# MIGRATIONS_DIR is read by sequence_cron/storage/migrate.py: the installed package has no
# migrations/ folder beside it.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MIGRATIONS_DIR=/app/migrations
RUN groupadd --system --gid 10001 sequence \
    && useradd --system --uid 10001 --gid sequence --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin sequence
COPY --from=build /opt/venv /opt/venv
COPY migrations /app/migrations
WORKDIR /app
USER 10001:10001
EXPOSE 3001
# GET /health returns 503 when PostgreSQL or Redis fails its check, and urlopen raises on 503.
# It probes 127.0.0.1, so HTTP_HOST must stay 0.0.0.0 (the default) or 127.0.0.1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + (os.environ.get('PORT') or '3001') + '/health', timeout=4)"]
ENTRYPOINT ["sequence-cron"]
CMD ["serve"]
