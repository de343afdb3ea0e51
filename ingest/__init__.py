"""MQTT telemetry into TimescaleDB: payload codec and validation, batch writer, quarantine."""
