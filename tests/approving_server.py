"""One simreg server process for tests that need several real server processes
on one database, but not the face engine.

    python tests/approving_server.py PORT        (settings from SIMREG_*, as for ``simreg serve``)

It starts the way ``simreg serve`` does where that matters to the database
(``runtime.open_service_database``: the migrations under their lock, the
keyring recorded or checked) and serves the real app with uvicorn.  Only the
face engine differs: the model-free one (``fake_engine.NoFaceEngine``), with the
biometric stages (``pipeline.assess_registration``) answering "approved", as
tests/http/test_registration_errors.py stubs them in process.  Everything after
the biometrics (sessions, idempotency claims, the quota precheck, the decision's
transaction) is the product's own code, in this process, on the shared database.
"""

from __future__ import annotations

import sys


def main(port: int) -> None:
    import uvicorn

    import simreg.app.pipeline
    from fake_engine import NoFaceEngine  # tests/ is sys.path[0] when run as a script
    from simreg.config import Settings
    from simreg.domain.decision import Decision
    from simreg.domain.reasons import Outcome
    from simreg.http.app import create_app
    from simreg.runtime import Runtime, image_limits, load_policy, open_service_database, video_limits

    simreg.app.pipeline.assess_registration = lambda *a, **k: simreg.app.pipeline.Assessment(
        Decision(Outcome.APPROVED, (), {}), None, None)
    settings = Settings()
    database, keyring = open_service_database(settings)
    rt = Runtime(settings, load_policy(settings), NoFaceEngine(), image_limits(settings), database,
                 video_limits(settings), keyring)
    uvicorn.run(create_app(runtime=rt), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(int(sys.argv[1]))
