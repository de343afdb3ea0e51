"""Billing: tariffs, period close, invoices, payments and reports, one sub-package each."""
