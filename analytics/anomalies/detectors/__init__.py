"""Anomaly detectors, one module per incident kind, following scikit-learn's estimator contract.

Hyperparameters (every threshold) are constructor arguments stored as given; ``fit`` learns what
is the meter's own normal (attributes ending in ``_``) and returns ``self``; ``detect`` turns a
window of data into :class:`Detection` s whose evidence holds numbers a person can check.

Rules where the physics is clear (leak, burst, backflow, stuck, silent, device alarms): a
threshold an operator can read and argue with beats a score. Learned (isolation forest over
dwellings of the same type) only for "abnormal consumption", where "normal" is a matter of
statistics, not physics.
"""
