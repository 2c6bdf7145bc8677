"""Webhook notifications: areas' subscriptions, events published into a transactional outbox
in the transaction of the change they announce, and their signed delivery by the worker."""
