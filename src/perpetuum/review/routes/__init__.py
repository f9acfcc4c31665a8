"""The desk's routes, one router per job: the queue, a record and its edits, decisions, the log."""

from perpetuum.review.routes import decisions, log, queue, records

ROUTERS = [queue.router, records.router, decisions.router, log.router]

__all__ = ["ROUTERS"]
