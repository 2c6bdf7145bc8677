import pytest

# Before anything imports them: the shared helpers' asserts then say what they compared, as a
# test module's do (pytest rewrites only test modules, conftests and plugins by itself).
pytest.register_assert_rewrite(
    "tests.support",
    "tests.ingest.support",
    "tests.metrics_api.support",
    "tests.targets_api.plan_support",
    "tests.targets_api.progress_support",
)
