"""The job system's entrypoint: the procrastinate app, its tasks and schedules, and the worker."""
