"""The exception the CLI turns into a message instead of a traceback."""


class FlotillaError(Exception):
    """A failure the user can act on; its text says how, in one sentence."""
