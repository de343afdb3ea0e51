"""Text PostgreSQL cannot store is refused as bad input, whichever route receives it."""

import httpx
import pytest

pytestmark = pytest.mark.services


async def test_a_nul_character_in_a_body_is_a_422_not_a_500(
    admin_client: httpx.AsyncClient,
) -> None:
    zone = await admin_client.post(
        "/zones", json={"country_code": "CM", "code": "Z1", "name": "Z\x00"}
    )

    assert zone.status_code == 422
    assert "NUL" in zone.json()["detail"]


async def test_a_nul_character_in_a_profile_change_leaves_the_profile_as_it_was(
    admin_client: httpx.AsyncClient,
) -> None:
    patched = await admin_client.patch("/users/me", json={"first_name": "A\x00da"})
    profile = await admin_client.get("/users/me")

    assert patched.status_code == 422
    assert patched.json()["error"] == "TextWithNul"
    assert profile.json()["first_name"] == "Ada"
