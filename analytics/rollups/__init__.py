"""Per-meter hourly and daily volumes, refreshed from the ingest's queue."""
