"""The one error type media loading raises."""


class MediaError(ValueError):
    """An input that cannot be loaded safely; `str(err)` is one line meant for the user."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.reason = " ".join(str(message).split())
        self.path = path
        # File names may hold newlines or other control characters: escape them in the text.
        shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(path or ""))
        super().__init__(f"{self.reason} ({shown})" if path else self.reason)
