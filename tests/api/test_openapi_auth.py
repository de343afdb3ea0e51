"""Hole 11 of issue 14: every authenticated operation documents its 401 in OpenAPI."""

from api.app import create_app
from api.auth.guards import PUBLIC_PATHS
from core.config import Settings

SCHEMA = create_app(Settings()).openapi()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, operations in SCHEMA["paths"].items()
    for method, operation in operations.items()
]


class TestUnauthorizedIsDocumented:
    def test_every_operation_outside_the_public_paths_asks_for_the_bearer_token(self):
        unsecured = [
            f"{method} {path}"
            for method, path, operation in OPERATIONS
            if path not in PUBLIC_PATHS and not operation.get("security")
        ]
        assert unsecured == []

    def test_every_authenticated_operation_documents_401_with_the_error_body(self):
        authenticated = [(m, p, op) for m, p, op in OPERATIONS if op.get("security")]
        assert len(authenticated) > 70
        missing = [f"{m} {p}" for m, p, op in authenticated if "401" not in op["responses"]]
        assert missing == []
        for _, _, operation in authenticated:
            body = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/ErrorOut"}
