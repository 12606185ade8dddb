"""Print the web API's OpenAPI schema (what `/api/openapi.json` serves) as JSON.

The front-end build generates its TypeScript types from it:
``python -m pathlens.server.schema > web/openapi.json``.
"""

from __future__ import annotations

import json
import sys

from pathlens.server._schema import api_schema

if __name__ == "__main__":
    json.dump(api_schema(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
