import subprocess
import sys
from datetime import timedelta

import pytest

from tests.billing.arrange import P0, P1, World
from tests.jobs.workers import close_and_wait, issue_and_wait

pytestmark = pytest.mark.services

H = timedelta(hours=1)


@pytest.fixture
def world(db) -> World:
    return World(db)


def pdf_text(content: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, check=True, capture_output=True
    )
    return done.stdout.decode()


async def close_and_issue(admin_client):
    closed = await close_and_wait(admin_client, period="2026-10")
    issued = await issue_and_wait(admin_client, period="2026-10", force=True)
    return {"close": closed, "issue": issued}


@pytest.mark.usefixtures("job_worker")
class TestBillingRun:
    async def test_close_then_issue_through_the_api(self, admin_client, world):
        meter = world.meter(world.dwelling())
        world.steady(meter, start=P0 - H, end=P1 + H, litres_per_hour=20)
        runs = await close_and_issue(admin_client)
        assert runs["close"][0]["progress"] == {"done": 1, "total": 1}
        listed = (await admin_client.get("/invoices", params={"period": "2026-10"})).json()
        # Numbered in the year of issue (today's, whatever the clock says).
        number = f"CM-{listed[0]['issue_date'][:4]}-000001"
        (issue,) = runs["issue"]
        assert (issue["task"], issue["progress"]) == ("issue_zone", {"done": 1, "total": 1})
        assert issue["result"] == {"issued": 1, "numbers": {"CM": [number] * 2}, "sms_queued": 0}
        assert [(i["number"], i["status"], i["volume_l"]) for i in listed] == [
            (number, "issued", 20 * int((P1 - P0) / H))
        ]
        detail = (await admin_client.get(f"/invoices/{listed[0]['id']}")).json()
        assert sum(line["amount_minor"] for line in detail["lines"]) == detail["total_minor"]
        assert detail["meters"][0]["meter_id"] == meter

    async def test_issue_during_the_grace_is_a_conflict_with_the_date(self, admin_client):
        answer = await admin_client.post("/billing/issue", json={"period": "2099-10"})
        assert answer.status_code == 409
        assert answer.json()["error"] == "GraceNotOver"

    async def test_the_same_admin_cannot_approve_twice(self, admin_client, world):
        meter = world.meter(world.dwelling())
        world.steady(meter, start=P0 - H, end=P1 - 2 * H, litres_per_hour=9)
        world.readings(meter, [(P1 + H, 9 * int((P1 - P0) / H))])
        await close_and_issue(admin_client)
        world.readings(meter, [(P1, 9 * int((P1 - P0) / H) + 500)], source="manual")
        await close_and_wait(admin_client, period="2026-10")
        [pending] = (await admin_client.get("/billing/regularisations")).json()
        url = f"/billing/regularisations/{pending['id']}/approve"
        first = await admin_client.post(url)
        assert (first.status_code, first.json()["status"]) == (200, "draft")
        again = await admin_client.post(url)
        assert (again.status_code, again.json()["error"]) == (409, "DuplicateApproval")


@pytest.mark.usefixtures("job_worker")
class TestInvoicePdf:
    async def test_french_customer_gets_french_text_and_estimates_marked(self, admin_client, world):
        dwelling = world.dwelling()
        world.customer(dwelling, phone="+237650000222")
        meter = world.meter(dwelling)
        world.readings(
            meter,
            [(P0 - H, 1_000), (P0 + 3 * H, 1_400), (P1 - 5 * H, 25_000), (P1 + H, 25_600)],
        )
        await close_and_issue(admin_client)
        [invoice] = (await admin_client.get("/invoices")).json()
        answer = await admin_client.get(f"/invoices/{invoice['id']}/pdf")
        assert answer.headers["content-type"] == "application/pdf"
        text = pdf_text(answer.content)
        assert f"CM-{invoice['issue_date'][:4]}-000001" in text
        assert "Marie Ngono" in text
        assert "estimé" in text
        # 1,100 L opening (1/4 of 400 L), 25,500 L closing: 24.4 m³ in French format.
        assert "24,400 m³" in text
        total = f"{invoice['total_minor']:,} FCFA".replace(",", " ")
        assert total in text


class TestBillCli:
    def test_close_issue_and_overdue_from_the_command_line(self, world, database_url, db):
        meter = world.meter(world.dwelling())
        world.steady(meter, start=P0 - H, end=P1 + H, litres_per_hour=20)
        env = {"WATERBILL_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}

        def bill(*args: str) -> str:
            done = subprocess.run(
                [sys.executable, "-m", "cli", "bill", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert "1 drafts" in bill("close", "--period", "2026-10")
        assert "1 drafts" in bill("close", "--period", "2026-10", "--zone", _zone_code(db))
        issued = bill("issue", "--period", "2026-10", "--force")
        [(year,)] = db.execute("SELECT extract(year FROM issue_date)::int FROM invoice").fetchall()
        assert f"CM-{year}-000001..CM-{year}-000001" in issued
        assert "1 invoices overdue" in bill("overdue", "--today", "2099-01-01")
        unknown = subprocess.run(
            [sys.executable, "-m", "cli", "bill", "close", "--period", "2026-10", "--zone", "NOPE"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (unknown.returncode, unknown.stderr.strip()) == (1, "zones NOPE do not exist")


def _zone_code(db):
    return db.execute("SELECT code FROM zone ORDER BY id DESC LIMIT 1").fetchone()[0]
