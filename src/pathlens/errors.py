"""Errors a user can cause. Each message says what was wrong and what to do about it."""


class PathlensError(Exception):
    """A problem with the user's input (model, file, data, arguments), not a bug in pathlens.

    The CLI prints these as a short message, without a traceback.
    """


class PathlensWarning(UserWarning):
    """A result is usable but weaker than asked for (for example, a lower fidelity)."""


class NotFoundError(PathlensError):
    """Something asked for by id or name (an analysis, a site, a channel) does not exist."""


__all__ = ["NotFoundError", "PathlensError", "PathlensWarning"]
