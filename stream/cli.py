"""The `lookout` command line."""


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("lookout: not built yet")
