"""Plumbing shared by every WaterBill package: settings, database, schema, local services."""
