"""Errors of the wire contract.

ValueError
 └── SchemaViolation   an uplink payload that breaks ``wire.schema``
"""


class SchemaViolation(ValueError):
    """An uplink payload the schema refuses; the message names the fields and what is wrong."""
