# syntax=docker/dockerfile:1
# The CORE notebook image: JupyterLab for notebook-transform authors (`core notebook`),
# with CORE and the `notebook` extra from uv.lock. Kernels run this image's Python, so
# `load_context` and `development_context` work in every notebook.
# Build from the repository root:
#   docker build -f dockerfiles/notebook.Dockerfile -t core-notebook .
# APP_UID is the unprivileged user's id (script/dev_env passes yours, so that files
# written into bind-mounted folders stay yours).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

# Builder: a virtual environment in /app/.venv, exactly as uv.lock says.
FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# The dependencies first: this layer changes only when the lock file does.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra notebook --no-install-project
COPY core ./core
COPY corebot ./corebot
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra notebook --no-editable

# Runtime: the environment and the notebook transforms, run by an unprivileged user.
FROM ${PYTHON_IMAGE} AS runtime
ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" core \
    && useradd --system --uid "${APP_UID}" --gid core --create-home --home-dir /home/core core \
    && install -d -o core -g core /home/core/.core
COPY --from=builder /app/.venv /app/.venv
COPY transforms /app/transforms
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CORE_HOME=/home/core/.core \
    CORE_TRANSFORMS_DIR=/app/transforms
WORKDIR /home/core
USER ${APP_UID}:${APP_UID}
EXPOSE 8081
CMD ["core", "notebook", "--ip", "0.0.0.0", "--port", "8081", "--no-browser"]
