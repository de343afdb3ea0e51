"""Declared absences ("holiday mode") through the API: who may declare, and every refusal."""

from datetime import timedelta

import pytest

from tests.clock import today_in

pytestmark = pytest.mark.services

TZ = "Africa/Douala"


def _days(start: int, end: int) -> dict[str, str]:
    today = today_in(TZ)
    return {
        "from_date": str(today + timedelta(days=start)),
        "to_date": str(today + timedelta(days=end)),
    }


def _url(world) -> str:
    return f"/dwellings/{world.ids['own']['dwelling_id']}/absences"


class TestDeclareListCancel:
    async def test_a_customer_declares_lists_and_cancels_an_absence(self, api, world):
        headers = world.accounts["customer"].headers
        made = await api.post(_url(world), json=_days(0, 13), headers=headers)
        assert made.status_code == 201, made.text
        absence = made.json()
        assert (absence["source"], absence["declared_by"]) == (
            "portal",
            world.accounts["customer"].id,
        )
        listed = await api.get(_url(world), headers=headers)
        # Soonest first: this one leaves today, the arranged one in a month.
        assert [a["id"] for a in listed.json()] == [absence["id"], world.ids["own"]["absence_id"]]
        cancelled = await api.delete(f"{_url(world)}/{absence['id']}", headers=headers)
        assert cancelled.status_code == 200
        assert cancelled.json()["cancelled_at"] is not None
        listed = await api.get(_url(world), headers=headers)
        assert [a["id"] for a in listed.json()] == [world.ids["own"]["absence_id"]]

    async def test_a_manager_declares_for_a_dwelling_of_their_building(self, api, world):
        made = await api.post(
            _url(world), json=_days(1, 2), headers=world.accounts["manager"].headers
        )
        assert made.status_code == 201, made.text
        assert made.json()["source"] == "operator"

    async def test_a_former_tenant_may_not_declare(self, api, world, db):
        db.execute(
            "UPDATE dwelling_occupant SET end_date = current_date - 2 WHERE id = %s",
            [world.ids["own"]["occupant_id"]],
        )
        made = await api.post(
            _url(world), json=_days(1, 2), headers=world.accounts["customer"].headers
        )
        assert made.status_code == 404

    async def test_cancelling_an_absence_of_another_dwelling_is_not_found(self, api, world):
        other = world.ids["other"]["absence_id"]
        answer = await api.delete(f"{_url(world)}/{other}", headers=world.accounts["admin"].headers)
        assert answer.status_code == 404
        assert answer.json()["error"] == "AbsenceNotFound"


class TestRefusals:
    @pytest.mark.parametrize(
        ("days", "says"),
        [
            ((5, 4), "is before the departure"),
            ((-1, 4), "is in the past"),
            ((0, 180), "at most 180 days, this one 181"),
            ((400, 401), "at most 365 days ahead"),
        ],
    )
    async def test_bad_dates_are_refused_with_the_rule_they_break(self, api, world, days, says):
        answer = await api.post(
            _url(world), json=_days(*days), headers=world.accounts["customer"].headers
        )
        assert answer.status_code == 422
        assert answer.json()["error"] == "InvalidAbsence"
        assert says in answer.json()["detail"]

    async def test_a_technician_may_not_declare(self, api, world):
        answer = await api.post(
            _url(world), json=_days(1, 2), headers=world.accounts["technician"].headers
        )
        assert answer.status_code == 403
