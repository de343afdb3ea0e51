"""Print the published JSON Schema of the uplink payload.

``python -m wire > docs/reference/uplink.schema.json`` after a change to ``wire.schema``.
"""

import json
import sys

from wire.schema import json_schema

sys.stdout.write(json.dumps(json_schema(), indent=1) + "\n")
