"""The two ways a request can be turned down, each with a message meant for the person."""

from __future__ import annotations


class Refused(Exception):
    """An action this person may not take, or that cannot be taken now; the message says why, politely."""


class BadInput(Exception):
    """A form or command with something missing or wrong; the message says what to change.
    ``field`` names the input at fault, so forms can show the message beside it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
