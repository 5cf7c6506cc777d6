# arXiv Digest as a container: `newsletter serve` (scheduler + web routes) as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NEWSLETTER_DATA_DIR=/data \
    NEWSLETTER_SUBSCRIBERS=/config/subscribers.csv \
    NEWSLETTER_HOST=0.0.0.0 \
    NEWSLETTER_PORT=8000 \
    NEWSLETTER_LOG_FORMAT=json

WORKDIR /app
COPY pyproject.toml README.md ./
COPY newsletter ./newsletter
COPY templates ./templates
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 digest \
    && mkdir -p /data /config \
    && chown digest:digest /data

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

# /healthz answers 503 when the service is not doing its job (see newsletter/service/health.py); slim images
# have no curl, so Python asks. urlopen raises on 503, which exits non-zero too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('NEWSLETTER_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]

CMD ["newsletter", "serve"]
