# One image for both `lightctl serve` and `firmware-sim`.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng-data \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY lightctl ./lightctl
COPY firmware_sim ./firmware_sim
COPY config ./config
# The same pinned set the README and CI install.
RUN pip install --no-cache-dir -c requirements.lock -e .
EXPOSE 8000
CMD ["lightctl", "serve"]
