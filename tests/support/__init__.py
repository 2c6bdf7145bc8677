"""What the test folders share: plain helpers (``areas``, ``problems``, ``waiting``, ``clock``,
``clients``, ``database``, ``submissions``, ``services``, ``up``) imported where they are used,
and fixtures in plugins (``suite``) that tests/conftest.py registers once for the whole run.

No test module imports a conftest: a folder's conftest holds only that folder's fixtures.
"""
