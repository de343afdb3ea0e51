# One image for every WaterBill service; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# The locked runtime dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN pip install -r requirements.lock
# The sources (.dockerignore keeps tests, docs, caches and any .env out); the wheel takes the
# packages pyproject.toml lists, so a new package needs no change here.
COPY . .
RUN pip install --no-deps . && useradd --system --no-create-home waterbill
USER waterbill
ENTRYPOINT ["waterbill"]
CMD ["--help"]
