# One image for every WaterBill service; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY wire ./wire
COPY ingest ./ingest
COPY analytics ./analytics
COPY billing ./billing
COPY api ./api
COPY simulators ./simulators
COPY cli ./cli
RUN pip install . && useradd --system --no-create-home waterbill
USER waterbill
ENTRYPOINT ["waterbill"]
CMD ["--help"]
