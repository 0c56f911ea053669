# Tracehouse: one image for `serve`, `receiver` and `query`.
# Built in two stages: the first installs Tracehouse into a virtualenv and compiles its span
# decoder to C (a C compiler is needed for that only); the image that runs copies the virtualenv.
FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Everything but what .dockerignore leaves out (tests, benchmarks, docs, local state): every
# package pyproject.toml installs is in the build context, whichever are added later.
COPY . ./
# Where compiling fails the decoder runs as Python (the server's start line says which); mypy
# is only the compiler, not needed to run.
RUN python -m venv /opt/tracehouse \
    && /opt/tracehouse/bin/pip install ".[compiled]" \
    && (/opt/tracehouse/bin/tracehouse compile || echo "span decoder not compiled: it runs as Python") \
    && /opt/tracehouse/bin/pip uninstall -y mypy

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/tracehouse/bin:$PATH
COPY --from=build /opt/tracehouse /opt/tracehouse
RUN useradd --system --uid 10001 --home-dir /data tracehouse \
    && mkdir -p /data && chown tracehouse /data
USER tracehouse
ENV TRACEHOUSE_DATA_DIR=/data TRACEHOUSE_HOST=0.0.0.0
EXPOSE 3000 4317 4318
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD python -c \
  "import os,urllib.request; port=os.environ.get('HEALTH_PORT','3000'); urllib.request.urlopen(f'http://127.0.0.1:{port}/api/public/health', timeout=2)"
ENTRYPOINT ["tracehouse"]
CMD ["serve"]
