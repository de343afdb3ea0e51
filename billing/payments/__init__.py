"""The payments ledger: payments, provider webhooks and polls, allocation, penalties, SMS."""
