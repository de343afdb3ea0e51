"""Telemetry reads for the API: a meter's readings and volumes, the fleet's ingest gauges."""
