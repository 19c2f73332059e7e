# syntax=docker/dockerfile:1
# Build stage: install the package and its dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ffs_bot ffs_bot
COPY handlers handlers
COPY bot bot
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

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
