"""What the test folders share: plain helpers imported where they are used (``areas``,
``problems``, ``waiting``, ``clock``, ``clients``, ``database``, ``submissions``, ``bodies``,
``prometheus``, ``services``, ``up``), and fixtures in a plugin (``suite``) that
tests/conftest.py registers once for the whole run.

No test module imports a conftest: a folder's conftest holds only that folder's fixtures.
"""
