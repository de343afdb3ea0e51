"""Hole 11 of issue 14: the meter CSV import is capped in bytes and in lines, by settings."""

import pytest

from core.config import MeterImportSettings, Settings

pytestmark = pytest.mark.services


@pytest.fixture
def settings(settings: Settings) -> Settings:
    caps = MeterImportSettings(max_bytes=4096, max_rows=50)
    return settings.model_copy(update={"meter_import": caps})


def meter_file(lines: int, prefix: str = "WB-CAP") -> str:
    return "serial,kind\n" + "".join(f"{prefix}-{n:05d},iot\n" for n in range(lines))


async def upload(api, admin, text: str):
    files = {"file": ("meters.csv", text, "text/csv")}
    return await api.post("/meters/import", files=files, headers=admin.headers)


class TestCaps:
    async def test_a_file_at_the_line_cap_is_queued_for_import(self, api, make_account, db):
        admin = await make_account("admin")
        answer = await upload(api, admin, meter_file(50))
        assert answer.status_code == 202, answer.text
        assert answer.json()["meters"] == 50
        job = db.execute(
            "SELECT task_name FROM procrastinate_jobs WHERE id = %s", [answer.json()["job_id"]]
        ).fetchone()
        assert job == ("import_meters",)

    async def test_one_line_more_is_a_clear_422_and_nothing_is_stored(self, api, make_account, db):
        admin = await make_account("admin")
        answer = await upload(api, admin, meter_file(51))
        assert answer.status_code == 422
        assert answer.json()["detail"] == (
            "the file has more than 50 meter lines; split it into smaller files"
        )
        assert (
            db.execute("SELECT count(*) FROM meter WHERE serial LIKE 'WB-CAP-%'").fetchone()[0] == 0
        )

    async def test_a_file_over_the_byte_cap_is_a_413(self, api, make_account):
        admin = await make_account("admin")
        answer = await upload(api, admin, meter_file(10) + "#" * 4096)
        assert answer.status_code == 413
        body = answer.json()
        assert body["error"] == "PayloadTooLarge"
        assert body["detail"] == "the file is larger than 4096 bytes; split it into smaller files"

    def test_the_defaults(self):
        caps = MeterImportSettings()
        assert (caps.max_bytes, caps.max_rows) == (2 * 1024 * 1024, 5000)

    def test_413_is_in_the_openapi_description(self, app):
        responses = app.openapi()["paths"]["/meters/import"]["post"]["responses"]
        assert {"401", "413", "422"} <= set(responses)
