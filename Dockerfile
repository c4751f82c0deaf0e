# The bridge with the pinned Claude CLI inside, running as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0 PORT=8000 HISTORY_DIR=/data/history

RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 bridge

WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt
COPY .tools/package.json .tools/package-lock.json .tools/
RUN cd .tools && npm ci --no-audit --no-fund --loglevel=error && ./node_modules/.bin/claude --version
COPY bridge/ bridge/
COPY supervisor/ supervisor/
COPY config/ config/
COPY run.py .
RUN mkdir -p /data/history && chown bridge /data/history

USER bridge
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/health" || exit 1
CMD ["python", "run.py"]
