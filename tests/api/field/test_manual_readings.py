import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accounts.models import Role
from tests import clock
from tests.api.field.conftest import JPEG, post_reading, reading_form, token_headers

pytestmark = pytest.mark.services

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class TestStoring:
    async def test_accepted_reading_is_stored_as_manual_with_note_and_photo(
        self, client, field, settings
    ):
        meter = field.meter()

        answer = await post_reading(
            client,
            field,
            key="key-0001",
            meter_id=meter,
            time=T0,
            index_l=1234,
            note="behind the gate",
            photo=JPEG,
        )

        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert (body["status"], body["reason"], body["index_l"]) == ("accepted", None, 1234)
        assert field.stored(meter) == [(T0, 1234)]
        note, read_by, photo_id = field.db.execute(
            "SELECT note, read_by, photo_id FROM manual_reading WHERE meter_id = %s", [meter]
        ).fetchone()
        assert (note, read_by, photo_id) == (
            "behind the gate",
            field.technician_id,
            body["photo_id"],
        )
        sha, size = field.db.execute(
            "SELECT sha256, size_bytes FROM photo WHERE id = %s", [photo_id]
        ).fetchone()
        digest = hashlib.sha256(JPEG).hexdigest()
        assert (sha, size) == (digest, len(JPEG))
        on_disk = Path(settings.field.photo_dir) / digest[:2] / f"{digest}.jpg"
        assert on_disk.read_bytes() == JPEG

    async def test_the_rollup_queue_learns_of_the_reading(self, client, field):
        meter = field.meter()

        await post_reading(client, field, key="key-0002", meter_id=meter, time=T0, index_l=10)

        since = field.db.execute(
            "SELECT since FROM rollup_pending WHERE meter_id = %s", [meter]
        ).fetchone()
        assert since == (T0,)

    async def test_the_same_picture_twice_is_one_file_and_one_row(self, client, field):
        meter = field.meter()

        for n in range(2):
            await post_reading(
                client,
                field,
                key=f"key-pic-{n}",
                meter_id=meter,
                time=T0 + n * HOUR,
                index_l=10 + n,
                photo=JPEG,
            )

        assert field.db.execute("SELECT count(*) FROM photo").fetchone() == (1,)


class TestIdempotency:
    async def test_a_replay_answers_the_original_result_and_stores_nothing_more(
        self, client, field
    ):
        meter = field.meter()
        first = await post_reading(
            client, field, key="key-replay", meter_id=meter, time=T0, index_l=50
        )

        again = await post_reading(
            client, field, key="key-replay", meter_id=meter, time=T0, index_l=50
        )

        assert again.status_code == first.status_code == 201
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert field.stored(meter) == [(T0, 50)]

    async def test_the_same_key_with_another_body_is_a_conflict(self, client, field):
        meter = field.meter()
        await post_reading(client, field, key="key-reused", meter_id=meter, time=T0, index_l=50)

        other = await post_reading(
            client, field, key="key-reused", meter_id=meter, time=T0, index_l=51
        )

        assert other.status_code == 409
        assert other.json()["error"] == "IdempotencyKeyReused"
        assert field.stored(meter) == [(T0, 50)]

    async def test_another_users_key_is_a_conflict_not_their_answer(self, client, field, settings):
        meter = field.meter()
        await post_reading(client, field, key="key-shared", meter_id=meter, time=T0, index_l=50)
        _, admin = token_headers(field.db, settings, Role.ADMIN)

        answer = await client.post(
            "/readings/manual",
            files=reading_form(meter, T0, 50),
            headers={**admin, "Idempotency-Key": "key-shared"},
        )

        assert answer.status_code == 409
        assert answer.json()["error"] == "IdempotencyKeyReused"

    async def test_a_rejection_is_replayed_too(self, client, field):
        meter = field.meter()
        field.reading(meter, T0, 500)

        first = await post_reading(
            client, field, key="key-lower", meter_id=meter, time=T0 + HOUR, index_l=100
        )
        again = await post_reading(
            client, field, key="key-lower", meter_id=meter, time=T0 + HOUR, index_l=100
        )

        assert first.status_code == again.status_code == 409
        assert again.json() == first.json()
        assert field.stored(meter) == []

    async def test_concurrent_requests_with_one_key_store_once(self, client, field):
        meter = field.meter()

        answers = await asyncio.gather(
            *(
                post_reading(client, field, key="key-race", meter_id=meter, time=T0, index_l=77)
                for _ in range(5)
            )
        )

        assert {a.status_code for a in answers} == {201}
        assert all(a.json() == answers[0].json() for a in answers)
        assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 4
        assert field.stored(meter) == [(T0, 77)]

    async def test_a_key_is_required(self, client, field):
        meter = field.meter()

        answer = await client.post(
            "/readings/manual", files=reading_form(meter, T0, 5), headers=field.headers
        )

        assert answer.status_code == 422
        assert field.stored(meter) == []


class TestConflicts:
    async def test_lower_than_the_previous_reading_is_rejected_with_the_reason(self, client, field):
        meter = field.meter(kind="iot")
        field.reading(meter, T0, 5_000)

        answer = await post_reading(
            client, field, key="key-conf-1", meter_id=meter, time=T0 + HOUR, index_l=4_000
        )

        assert answer.status_code == 409
        body = answer.json()
        assert (body["error"], body["status"], body["reason"]) == (
            "ReadingRejected",
            "rejected",
            "index_below_previous",
        )
        assert "5000 L" in body["detail"]
        assert field.stored(meter) == []

    async def test_a_meter_reading_at_the_same_time_that_differs_is_a_warning(self, client, field):
        meter = field.meter(kind="iot")
        field.reading(meter, T0 - HOUR, 900)
        field.reading(meter, T0, 1_000)

        answer = await post_reading(
            client, field, key="key-conf-2", meter_id=meter, time=T0, index_l=1_050
        )

        assert answer.status_code == 201
        body = answer.json()
        assert (body["status"], body["reason"]) == ("accepted_with_warning", "differs_from_meter")
        assert "1000 L" in body["message"]
        assert field.stored(meter) == [(T0, 1_050)]
        assert field.stored(meter, "iot") == [(T0 - HOUR, 900), (T0, 1_000)]

    async def test_a_small_step_back_within_tolerance_is_a_warning(self, client, field):
        meter = field.meter(kind="iot")
        field.reading(meter, T0, 1_005)

        answer = await post_reading(
            client, field, key="key-conf-3", meter_id=meter, time=T0 + HOUR, index_l=1_000
        )

        assert (answer.status_code, answer.json()["reason"]) == (201, "below_previous")

    async def test_a_register_wrap_is_accepted_with_a_warning(self, client, field):
        meter = field.meter(register_digits=6)
        field.reading(meter, T0, 999_900, "manual")

        answer = await post_reading(
            client, field, key="key-conf-4", meter_id=meter, time=T0 + HOUR, index_l=150
        )

        assert (answer.status_code, answer.json()["reason"]) == (201, "register_wrapped")

    async def test_an_impossible_rise_is_rejected(self, client, field):
        meter = field.meter()
        field.reading(meter, T0, 0, "manual")

        answer = await post_reading(
            client, field, key="key-conf-5", meter_id=meter, time=T0 + HOUR, index_l=900_000
        )

        assert (answer.status_code, answer.json()["reason"]) == (409, "index_jump")

    async def test_higher_than_a_later_reading_is_rejected(self, client, field):
        meter = field.meter(kind="iot")
        field.reading(meter, T0 + 2 * HOUR, 2_000)

        answer = await post_reading(
            client, field, key="key-conf-6", meter_id=meter, time=T0, index_l=3_000
        )

        assert (answer.status_code, answer.json()["reason"]) == (409, "index_above_next")

    async def test_the_same_reading_under_another_key_is_a_duplicate(self, client, field):
        meter = field.meter()
        await post_reading(client, field, key="key-dupl-1", meter_id=meter, time=T0, index_l=300)

        same = await post_reading(
            client, field, key="key-dupl-2", meter_id=meter, time=T0, index_l=300
        )
        other = await post_reading(
            client, field, key="key-dupl-3", meter_id=meter, time=T0, index_l=301
        )

        assert (same.status_code, same.json()["status"]) == (200, "duplicate")
        assert (other.status_code, other.json()["reason"]) == (409, "conflicts_with_manual")
        assert field.stored(meter) == [(T0, 300)]

    async def test_before_installation_is_rejected(self, client, field):
        meter = field.meter()

        answer = await post_reading(
            client,
            field,
            key="key-conf-7",
            meter_id=meter,
            time=datetime(2025, 1, 1, tzinfo=UTC),
            index_l=1,
        )

        assert (answer.status_code, answer.json()["reason"]) == (409, "meter_not_installed")


class TestInput:
    async def test_a_meter_outside_the_round_is_not_found(self, client, field):
        meter = field.meter(building_id=field.other_building_id)

        answer = await post_reading(
            client, field, key="key-input-1", meter_id=meter, time=T0, index_l=1
        )

        assert answer.status_code == 404
        assert field.stored(meter) == []

    async def test_a_photo_that_is_not_an_image_is_refused(self, client, field):
        meter = field.meter()

        answer = await post_reading(
            client, field, key="key-input-2", meter_id=meter, time=T0, index_l=1, photo=b"hello"
        )

        assert (answer.status_code, answer.json()["error"]) == (422, "InvalidPhoto")
        assert field.stored(meter) == []

    async def test_a_time_in_the_future_is_refused(self, client, field):
        meter = field.meter()

        answer = await post_reading(
            client,
            field,
            key="key-input-3",
            meter_id=meter,
            time=clock.now() + timedelta(days=1),
            index_l=1,
        )

        assert answer.status_code == 422
        assert "future" in answer.json()["detail"]

    async def test_a_time_without_offset_is_refused(self, client, field):
        meter = field.meter()
        files = reading_form(meter, T0, 1)
        files["time"] = (None, "2026-03-02T08:00:00")

        answer = await client.post(
            "/readings/manual",
            files=files,
            headers={**field.headers, "Idempotency-Key": "key-input-4"},
        )

        assert answer.status_code == 422
