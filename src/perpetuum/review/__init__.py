"""Human review of generated records: a local web app over a dataset folder, its SQLite store, and the export.

    from perpetuum.review import ReviewStore, create_app, export_reviewed

    store = ReviewStore.open("out/")            # review.sqlite beside the data; imported the first time
    app = create_app("out/", reviewer="ana")    # FastAPI app; `perpetuum review out/` serves it with uvicorn
    export_reviewed("out/", "reviewed/")        # accepted records, corrections applied, log, card with a review section

Reviewers' verdicts are guarded: a validator's value is overridden with a reason (`store.override`), never edited,
and accepting a record a validator still flags raises `StillFlagged` unless `while_flagged=True`.
"""

from perpetuum.review.app import create_app
from perpetuum.review.export import ExportResult, export_reviewed
from perpetuum.review.store import ReviewError, ReviewRecord, ReviewStore, StillFlagged, VersionConflict

__all__ = ["ReviewStore", "ReviewRecord", "ReviewError", "StillFlagged", "VersionConflict", "create_app",
           "export_reviewed", "ExportResult"]
