# Tracehouse: one image for `serve`, `receiver` and `query`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# Everything but what .dockerignore leaves out (tests, benchmarks, docs, local state): every
# package pyproject.toml installs is in the build context, whichever are added later.
COPY . ./
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data tracehouse \
    && mkdir -p /data && chown tracehouse /data
USER tracehouse
ENV TRACEHOUSE_DATA_DIR=/data TRACEHOUSE_HOST=0.0.0.0
EXPOSE 3000 4317 4318
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD python -c \
  "import os,urllib.request; port=os.environ.get('HEALTH_PORT','3000'); urllib.request.urlopen(f'http://127.0.0.1:{port}/api/public/health', timeout=2)"
ENTRYPOINT ["tracehouse"]
CMD ["serve"]
