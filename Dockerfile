# syntax=docker/dockerfile:1
# Build stage: install the package and exactly the locked dependencies into a virtual
# environment. uv (pinned with hashes, as `make` installs it) reads uv.lock; the test tools and
# the venv's own installers (the `venv` group) stay out of the image.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy UV_NO_CACHE=1
WORKDIR /src
COPY requirements/bootstrap.txt requirements/bootstrap.txt
RUN python -m venv /opt/tools \
    && /opt/tools/bin/pip install --require-hashes --no-deps -r requirements/bootstrap.txt
COPY pyproject.toml uv.lock README.md ./
COPY ffs_bot ffs_bot
COPY handlers handlers
COPY bot bot
RUN /opt/tools/bin/uv sync --locked --no-default-groups --no-editable

# Run stage: the environment, the catalogs, a non-root user and a volume for the data.
FROM python:3.11-slim
# A CJK font, so report charts draw Chinese factory names rather than boxes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --create-home --uid 10001 ffs \
    && mkdir /data && chown ffs:ffs /data
COPY --from=build /opt/venv /opt/venv
COPY locales /app/locales
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FFS_DATA_DIR=/data \
    FFS_LOCALES_DIR=/app/locales \
    FFS_HTTP_HOST=0.0.0.0 \
    FFS_HTTP_PORT=8080
WORKDIR /app
EXPOSE 8080
VOLUME ["/data"]
USER ffs
ENTRYPOINT ["ffs-bot"]
CMD ["run"]
