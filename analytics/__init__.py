"""Analytics: rollups, telemetry reads, VEE, anomaly scan, incidents, alerts, forecasts."""
