"""web: the pages for people, over the three APIs (services/web/main.py)."""

# Here rather than in main.py, so that `joinedup` knows the port without importing the app.
PORT = 8000
