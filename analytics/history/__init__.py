"""Fleet, zone, building and meter history for the operator console: readings and volumes over
a time window, read from the rollups (and, for the last hour, from the newest readings)."""
