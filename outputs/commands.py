"""CLI commands of the outputs package (registered through the guji.commands entry point)."""


def register(app) -> None:
    pass
