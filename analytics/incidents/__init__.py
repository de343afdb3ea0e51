"""Incidents: anomalies with a lifecycle, as the scan records them and people handle them."""
