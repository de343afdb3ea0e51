"""Invoices after the close: issue and numbering, overdue, void, approvals, PDF, estimates."""
