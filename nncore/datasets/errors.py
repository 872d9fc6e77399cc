"""The one error type of dataset loading: its message is one line that says what to do."""


class DatasetError(Exception):
    """A missing, corrupt or unreachable dataset file; `str(e)` is meant for the user as is."""
