"""The one error type media loading raises."""


class MediaError(ValueError):
    """An input that cannot be loaded safely; `str(err)` is one line meant for the user."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.reason = " ".join(str(message).split())
        self.path = path
        super().__init__(f"{self.reason} ({path})" if path else self.reason)
