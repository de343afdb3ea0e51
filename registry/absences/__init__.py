"""Declared absences ("holiday mode"): a dwelling's occupants away from one date to another."""
