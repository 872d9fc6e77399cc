"""User mistakes: the CLI prints the message on one line and exits 2, without a traceback."""


class UserError(Exception):
    """Bad input from the user (unknown name, malformed override, unusable folder)."""
