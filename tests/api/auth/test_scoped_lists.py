import pytest

pytestmark = pytest.mark.services


def ids_of(answer) -> set[int]:
    assert answer.status_code == 200, answer.text
    return {item["id"] for item in answer.json()}


class TestListsAreScoped:
    async def test_a_customer_lists_only_their_dwellings_and_meters(self, api, world):
        headers = world.accounts["customer"].headers
        own = world.ids["own"]
        assert ids_of(await api.get("/meters", headers=headers)) == {own["meter_id"]}
        assert ids_of(await api.get("/dwellings", headers=headers)) == {own["dwelling_id"]}

    async def test_a_manager_lists_only_their_buildings_and_tenants(self, api, world):
        headers = world.accounts["manager"].headers
        own = world.ids["own"]
        assert ids_of(await api.get("/buildings", headers=headers)) == {own["building_id"]}
        assert ids_of(await api.get("/users", headers=headers)) == {own["user_id"]}

    async def test_a_technician_lists_the_meters_of_their_round(self, api, world, db):
        headers = world.accounts["technician"].headers
        own, other = world.ids["own"], world.ids["other"]
        assert ids_of(await api.get("/meters", headers=headers)) == {own["meter_id"]}
        db.execute(
            "INSERT INTO technician_assignment (technician_id, meter_id) VALUES (%s, %s)",
            [world.users["technician"], other["meter_id"]],
        )
        assert ids_of(await api.get("/meters", headers=headers)) == {
            own["meter_id"],
            other["meter_id"],
        }

    async def test_an_admin_lists_everything(self, api, world):
        headers = world.accounts["admin"].headers
        assert len(ids_of(await api.get("/meters", headers=headers))) == 2

    async def test_a_tenancy_that_ended_keeps_the_meter_but_not_its_later_data(
        self, api, world, db
    ):
        """The former tenant still reaches the meter, for the time they held it (test_tenancy)."""
        own = world.ids["own"]
        db.execute(
            "UPDATE dwelling_occupant SET end_date = '2021-01-01' WHERE id = %s",
            [own["occupant_id"]],
        )
        headers = world.accounts["customer"].headers
        assert ids_of(await api.get("/meters", headers=headers)) == {own["meter_id"]}
        anomalies = await api.get("/anomalies", headers=headers)
        assert anomalies.json()["items"] == []
        answer = await api.get(f"/anomalies/{own['incident_id']}", headers=headers)
        assert answer.status_code == 404


class TestMeterRoutes:
    async def test_import_reports_every_bad_line(self, api, world):
        headers = world.accounts["admin"].headers
        csv = "serial,kind\nWB-NEW-1,iot\na/b,iot\nWB-NEW-2,gas\n"
        answer = await api.post(
            "/meters/import", files={"file": ("m.csv", csv, "text/csv")}, headers=headers
        )
        assert answer.status_code == 422
        detail = answer.json()["detail"]
        assert "line 3" in detail
        assert "line 4" in detail

    async def test_replace_moves_the_dwelling_to_the_new_meter(self, api, world):
        headers = world.accounts["admin"].headers
        own = world.ids["own"]
        answer = await api.post(
            f"/meters/{own['meter_id']}/replace",
            json={"serial": "WB-REPL-1", "kind": "iot", "at": "2026-06-01T00:00:00Z"},
            headers=headers,
        )
        assert answer.status_code == 201
        assert answer.json()["dwelling_id"] == own["dwelling_id"]
        old = await api.get(f"/meters/{own['meter_id']}", headers=headers)
        assert old.json()["removed_at"].startswith("2026-06-01")

    async def test_patch_assigns_and_unassigns_a_dwelling(self, api, world):
        headers = world.accounts["admin"].headers
        own, other = world.ids["own"], world.ids["other"]
        url = f"/meters/{own['meter_id']}"
        moved = await api.patch(url, json={"dwelling_id": other["dwelling_id"]}, headers=headers)
        assert moved.json()["dwelling_id"] == other["dwelling_id"]
        cleared = await api.patch(url, json={"dwelling_id": None}, headers=headers)
        assert cleared.json()["dwelling_id"] is None
        missing = await api.patch(url, json={"dwelling_id": 999_999}, headers=headers)
        assert missing.status_code == 404
