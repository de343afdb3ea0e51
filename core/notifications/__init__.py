"""The SMS outbox: every text message the product sends, queued, sent and retried in one place."""
