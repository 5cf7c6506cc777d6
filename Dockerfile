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

CMD ["newsletter", "serve"]
