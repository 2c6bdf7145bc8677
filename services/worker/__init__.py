"""worker: the progress refresher and the outbox deliverer (services/worker/main.py)."""

# Here rather than in main.py, so that `joinedup` knows the port without importing the app.
PORT = 8004
