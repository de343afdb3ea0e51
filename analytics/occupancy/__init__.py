"""Occupancy as the scan sees it: days a dwelling was declared empty or looked empty."""
