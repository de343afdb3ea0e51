"""Tariff versions and the pricing maths: from a metered volume to invoice lines."""
