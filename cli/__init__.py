"""The ``waterbill`` command line: one entrypoint for every service and job."""
