# CallGuard's Telegram bot in a container. compose.yaml shows how to run it:
#   docker compose up -d --build
# The database lives on the volume /data; the rules ship inside the package.

# Build the wheels (a compiler in case a dependency has no wheel for this platform; the final image has none).
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[chart,cli,ocr]'

FROM python:3.11-slim
# fonts-noto-cjk: `callguard stats --chart` draws Chinese category names with it.
# The ocr extra reads screenshots sent to the bot (OpenCV headless: no system libraries needed).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels 'callguard[chart,cli,ocr]' \
 && rm -rf /wheels

# A non-root user that owns the data folder. The folder is made before VOLUME,
# so a new named volume starts out owned by that user.
RUN useradd --create-home --uid 10001 callguard \
 && mkdir /data \
 && chown callguard:callguard /data
ENV CALLGUARD_DB=/data/callguard.db \
    PYTHONUNBUFFERED=1
VOLUME /data
WORKDIR /data
USER callguard

# Only `callguard run --webhook` listens (CALLGUARD_WEBHOOK_PORT); long polling needs no port.
EXPOSE 8443
# Exec form: the bot is PID 1 and gets SIGTERM itself, so it stops gracefully
# (reports still queued are written) on `docker stop`.
CMD ["callguard", "run"]
