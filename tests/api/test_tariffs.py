from datetime import timedelta

import pytest

from tests import clock

pytestmark = pytest.mark.services


def tomorrow() -> str:
    """Read at use, not at collection: a run that crosses midnight would make it today."""
    return (clock.today_in("Africa/Douala") + timedelta(days=1)).isoformat()


def cameroon(**overrides):
    body = {
        "country_code": "CM",
        "effective_from": tomorrow(),
        "blocks": [
            {"upper_m3": "10", "price_per_m3": "365"},
            {"upper_m3": "30", "price_per_m3": "550"},
            {"upper_m3": None, "price_per_m3": "775"},
        ],
        "subscriptions": {
            "apartment": "1000",
            "house": "1500",
            "commercial": "5000",
            "communal": "0",
        },
        "service_fee": "500",
        "vat_pct": "19.25",
        "penalty_pct": "5",
        "penalty_fixed": "1000",
        **overrides,
    }
    return body


class TestCreateTariff:
    async def test_created_version_reads_back(self, admin_client):
        created = await admin_client.post("/tariffs", json=cameroon(note="2027 review"))
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["currency"] == "XAF"
        assert body["service_fee"] == "500"
        assert body["subscriptions"]["commercial"] == "5000"
        assert [b["upper_m3"] for b in body["blocks"]] == ["10", "30", None]
        assert [b["price_per_m3"] for b in body["blocks"]] == ["365", "550", "775"]
        assert body["vat_pct"] == "19.25"
        fetched = await admin_client.get(f"/tariffs/{body['id']}")
        assert fetched.json() == body

    async def test_duplicate_is_409(self, admin_client):
        assert (await admin_client.post("/tariffs", json=cameroon())).status_code == 201
        again = await admin_client.post("/tariffs", json=cameroon())
        assert again.status_code == 409
        assert again.json()["error"] == "TariffVersionExists"

    async def test_every_broken_rule_is_reported(self, admin_client):
        response = await admin_client.post(
            "/tariffs",
            json=cameroon(
                blocks=[{"upper_m3": "10", "price_per_m3": "-1"}],
                service_fee="500.5",
            ),
        )
        assert response.status_code == 422
        body = response.json()
        assert body["error"] == "InvalidTariff"
        assert "service fee 500.5 is not a whole number of XAF" in body["detail"]
        response = await admin_client.post(
            "/tariffs", json=cameroon(blocks=[{"upper_m3": "10", "price_per_m3": "-1"}])
        )
        assert "must be open-ended" in response.json()["detail"]
        assert "price -1 is negative" in response.json()["detail"]

    async def test_malformed_payload_is_422(self, admin_client):
        response = await admin_client.post("/tariffs", json=cameroon(subscriptions={"castle": "1"}))
        assert response.status_code == 422


class TestReadTariffs:
    async def test_in_force_and_list(self, admin_client, session):
        from registry.service import create_zone

        zone = await create_zone(session, country_code="CM", code="DLA-1", name="Douala 1")
        await session.commit()
        created = (await admin_client.post("/tariffs", json=cameroon())).json()
        in_force = await admin_client.get(
            "/tariffs/in-force", params={"zone_id": zone.id, "on": tomorrow()}
        )
        assert in_force.json()["id"] == created["id"]
        today = await admin_client.get("/tariffs/in-force", params={"zone_id": zone.id})
        assert today.status_code == 409
        assert today.json()["error"] == "TariffMissing"
        listed = await admin_client.get("/tariffs", params={"country_code": "cm"})
        assert [t["id"] for t in listed.json()] == [created["id"]]

    async def test_unknown_ids_are_404(self, admin_client):
        assert (await admin_client.get("/tariffs/999999")).json()["error"] == "TariffNotFound"
        missing_zone = await admin_client.get("/tariffs/in-force", params={"zone_id": 999999})
        assert missing_zone.status_code == 404

    async def test_ids_beyond_the_integer_range_are_422(self, admin_client):
        assert (await admin_client.get(f"/tariffs/{2**40}")).status_code == 422
        response = await admin_client.get("/tariffs/in-force", params={"zone_id": 2**40})
        assert response.status_code == 422


class TestQuote:
    async def test_quote_lines_add_up(self, admin_client):
        created = (await admin_client.post("/tariffs", json=cameroon())).json()
        response = await admin_client.post(
            f"/tariffs/{created['id']}/quote",
            json={"volume_l": 12345, "period_days": 30, "dwelling_type": "house"},
        )
        assert response.status_code == 200, response.text
        quote = response.json()
        assert [ln["amount_minor"] for ln in quote["lines"]] == [3650, 1290, 1500, 500, 1336]
        assert quote["total_minor"] == sum(ln["amount_minor"] for ln in quote["lines"])
        # 3650 + 1290 + 1500 + 500 = 6940; VAT 19.25 % = 1335.95
        assert quote["total"] == "8276"

    async def test_negative_volume_is_422(self, admin_client):
        created = (await admin_client.post("/tariffs", json=cameroon())).json()
        response = await admin_client.post(
            f"/tariffs/{created['id']}/quote",
            json={"volume_l": -1, "dwelling_type": "house"},
        )
        assert response.status_code == 422
