"""tests/ has no __init__.py, so pytest puts this folder on sys.path: shared helpers such as
`enginekit` and `polling` import as plain modules from every test folder."""
