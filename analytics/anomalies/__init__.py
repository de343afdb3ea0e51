"""The anomaly scan: features, detectors, and the job that turns their findings into incidents."""
