"""tests/ has no __init__.py, so pytest puts this folder on sys.path: shared helpers such as
`enginekit` and `polling` import as plain modules from every test folder."""

# kit's bundle and a seeded store, for every officers' service test over it (tests/admin, and
# the Kafka one in tests/kafka); a folder's own fixtures of the same name take precedence
pytest_plugins = ["admin.stores"]


def pytest_configure(config) -> None:
    """The compiled bundle cache of a test run lives in a folder of its own, removed at the
    end: hundreds of test bundles would otherwise pile up in the user's ~/.cache. Set
    LOOKOUT_BUNDLE_CACHE to keep them elsewhere."""
    import os
    import shutil
    import tempfile

    if "LOOKOUT_BUNDLE_CACHE" not in os.environ:
        folder = tempfile.mkdtemp(prefix="lookout-test-bundles-")
        os.environ["LOOKOUT_BUNDLE_CACHE"] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
