# syntax=docker/dockerfile:1
# One image for the four services (intake, router, notifier, history) and the operator commands
# (`python -m shared.admin ...`). docker-compose.yml picks the process with `command:`.
#
# The venv holds the workspace packages as built wheels (--no-editable), without the dev group
# and without devstack (the embedded Tansu/SecantusDB/aiosmtpd stack is for machines without
# Docker only). The router's classifier is trained at build time from services/router/data/.

ARG PYTHON_IMAGE=python:3.11-slim

# --------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install "uv==${UV_VERSION}"

WORKDIR /app

# Third-party dependencies first, from the manifests alone, so a code change reuses this layer.
# uv resolves the workspace from every member's pyproject.toml (members = shared, services/*,
# devstack): devstack's manifest must be present even though nothing of it is installed.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/
COPY services/intake/pyproject.toml services/intake/
COPY services/router/pyproject.toml services/router/
COPY services/notifier/pyproject.toml services/notifier/
COPY services/history/pyproject.toml services/history/
COPY devstack/pyproject.toml devstack/

# --package selects the four services (and, through them, shared); --no-dev drops the root's
# dev group; devstack and its broker/db wheels are not a dependency of any selected package.
RUN uv sync --frozen --no-dev --no-editable --no-install-workspace \
        --package intake --package router --package notifier --package history

COPY shared/ shared/
COPY services/ services/
RUN uv sync --frozen --no-dev --no-editable \
        --package intake --package router --package notifier --package history

# The classifier reads its training data relative to its source file
# (router/classifier/data.py: parents[3] / "data"), so train from the source tree, not from the
# installed wheel in site-packages.
RUN PYTHONPATH=/app/services/router/src /app/.venv/bin/python -m router.classifier.train \
        --output /app/services/router/model/model.joblib \
    && test -s /app/services/router/model/model.joblib

# --------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

RUN groupadd --system --gid 10001 helpdesk \
    && useradd --system --uid 10001 --gid helpdesk --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin helpdesk

WORKDIR /app

# Owned by root and read-only for the service user: the code and the model cannot be changed
# by the process that runs them.
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/services/router/model/model.joblib /app/services/router/model/model.joblib

ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ROUTER_MODEL_PATH=/app/services/router/model/model.joblib

USER 10001:10001

EXPOSE 8001 8002 8003 8004

# No default service: compose (or the orchestrator) says which one to run.
CMD ["python", "-m", "shared.admin", "--help"]
