"""The web app: `pathlens serve RUN_DIR` and `pathlens report RUN_DIR`.

>>> from pathlens.server import create_app
>>> app = create_app("runs/demo")  # a FastAPI app; run it with uvicorn
"""

from pathlens.server._app import create_app, new_token, running
from pathlens.server._report import write_report
from pathlens.server._schema import api_schema
from pathlens.server._security import is_loopback
from pathlens.server._views import RunView

__all__ = [
    "RunView",
    "api_schema",
    "create_app",
    "is_loopback",
    "new_token",
    "running",
    "write_report",
]
