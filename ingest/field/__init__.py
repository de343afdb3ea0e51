"""Field work: technicians' rounds, manual readings (idempotent, offline-first) and meter faults."""
