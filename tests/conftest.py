"""tests/ has no __init__.py, so pytest puts this folder on sys.path: shared helpers such as
`enginekit` and `polling` import as plain modules from every test folder."""

# kit's bundle and a seeded store, for every officers' service test over it (tests/admin, and
# the Kafka one in tests/kafka); a folder's own fixtures of the same name take precedence
pytest_plugins = ["admin.stores"]
