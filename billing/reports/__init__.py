"""Reports and the accounting export."""
