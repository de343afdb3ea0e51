"""The statements of a period close, set-based throughout: one statement reads every meter of
the run (opening and closing index, flags, reasons to hold), and each write is one statement
over a staging table or arrays (``unnest``), whatever the number of dwellings.

Only ``repository.CloseRepository`` executes them; they live apart so each reads whole.
"""

# Every meter in service during the period, with its boundaries (p0, p1: the local midnights
# opening and ending the period in its time zone, ``meter_timezone``: the meters of a dwelling
# share its zone's) and whether it was installed or removed within it. A billed meter is on a
# dwelling, so the deployment's default country never applies (NULL).
SEGMENTS = """
CREATE TEMP TABLE close_seg ON COMMIT DROP AS
WITH seg AS MATERIALIZED (
    -- One time zone conversion per meter, not per use.
    SELECT d.id AS dwelling_id, d.dwelling_type::text AS dwelling_type,
           d.occupancy = 'vacant' AS vacant, z.id AS zone_id, z.country_code, c.currency,
           m.id AS meter_id, m.installed_at, m.removed_at, m.initial_index_l,
           m.register_digits,
           CAST(:start AS date)::timestamp AT TIME ZONE tz.timezone AS p0,
           (CAST(:end AS date) + 1)::timestamp AT TIME ZONE tz.timezone AS p1
    FROM dwelling d
    JOIN building b ON b.id = d.building_id
    JOIN zone z ON z.id = b.zone_id
    JOIN country c ON c.code = z.country_code
    JOIN meter m ON m.dwelling_id = d.id
    JOIN meter_timezone(NULL) tz ON tz.meter_id = m.id
    WHERE CAST(:zones AS int[]) IS NULL OR z.id = ANY(CAST(:zones AS int[]))
)
SELECT s.dwelling_id, s.dwelling_type, s.vacant, s.zone_id, s.country_code, s.currency,
       s.p0, s.p1, s.meter_id, s.installed_at, s.removed_at, s.initial_index_l,
       power(10::numeric, s.register_digits)::bigint AS modulus,
       s.installed_at >= s.p0 AS installed_in,
       coalesce(s.removed_at <= s.p1, false) AS removed_in
FROM seg s
WHERE s.installed_at < s.p1 AND (s.removed_at IS NULL OR s.removed_at > s.p0)
"""

# A boundary is a local midnight, so it is a local hour boundary of ``meter_hourly``: the row
# starting exactly there holds the index at the boundary (``start_interpolated`` when no reading
# fell on it). A meter installed within the period opens at its initial index; one removed
# within it closes at the end of its last hour. Each lookup is one primary-key probe (LATERAL
# keeps it a parameterised index scan with runtime chunk exclusion, whatever the size of the
# hypertable; ``LIMIT 1`` keeps the planner from turning them into hash joins that read every
# hourly row). Reasons to hold are read in the same pass.
METERS = """
WITH tampered AS (
    -- A tamper window during the period makes the register untrustworthy for it (the rule of
    -- which alarms hold is the view ``tamper_hold``). (Joins, not a subquery per meter: one
    -- pass over the incidents and the queue.)
    SELECT s.meter_id FROM close_seg s
    JOIN tamper_hold h ON h.meter_id = s.meter_id
    WHERE h.started_at < s.p1 AND (h.ended_at IS NULL OR h.ended_at > s.p0)
),
pending AS (
    SELECT s.meter_id FROM close_seg s
    JOIN rollup_pending rp ON rp.meter_id = s.meter_id AND rp.since < s.p1
)
SELECT s.dwelling_id, s.dwelling_type, s.vacant, s.zone_id, s.country_code, s.currency,
       s.meter_id, s.modulus,
       CASE WHEN s.installed_in THEN s.installed_at ELSE s.p0 END AS opening_at,
       CASE WHEN s.installed_in THEN s.initial_index_l ELSE h0.start_index_l END AS opening_index,
       CASE WHEN s.installed_in THEN false ELSE h0.start_interpolated END AS opening_estimated,
       CASE WHEN s.removed_in THEN s.removed_at ELSE s.p1 END AS closing_at,
       CASE WHEN s.removed_in THEN hr.end_index_l ELSE h1.start_index_l END AS closing_index,
       CASE WHEN s.removed_in THEN hr.end_interpolated ELSE h1.start_interpolated END
           AS closing_estimated,
       s.meter_id IN (
           SELECT md.meter_id FROM meter_daily md
           WHERE md.day BETWEEN CAST(:start AS date) AND CAST(:end AS date) AND md.negative_step
       ) AS negative_step,
       s.meter_id IN (SELECT meter_id FROM tampered) AS tamper,
       s.meter_id IN (SELECT meter_id FROM pending) AS rollup_pending
FROM close_seg s
LEFT JOIN LATERAL (
    SELECT h.start_index_l, h.start_interpolated FROM meter_hourly h
    WHERE NOT s.installed_in AND h.meter_id = s.meter_id AND h.hour_start = s.p0 LIMIT 1
) h0 ON true
LEFT JOIN LATERAL (
    SELECT h.start_index_l, h.start_interpolated FROM meter_hourly h
    WHERE NOT s.removed_in AND h.meter_id = s.meter_id AND h.hour_start = s.p1 LIMIT 1
) h1 ON true
LEFT JOIN LATERAL (
    SELECT h.end_index_l, h.end_interpolated FROM meter_hourly h
    WHERE s.removed_in AND h.meter_id = s.meter_id AND h.hour_start < s.removed_at
          AND h.hour_start >= greatest(s.p0, s.installed_at) - interval '1 hour'
    ORDER BY h.hour_start DESC LIMIT 1
) hr ON true
ORDER BY s.dwelling_id, opening_at
"""

# The occupant billed: a tenant on the period's last day, else an owner; latest start first.
_CUSTOMER = """
LEFT JOIN LATERAL (
    SELECT o.user_id FROM dwelling_occupant o
    WHERE o.dwelling_id = u.dwelling_id AND o.start_date <= CAST(:end AS date)
          AND (o.end_date IS NULL OR o.end_date >= CAST(:end AS date))
    ORDER BY o.relation = 'tenant' DESC, o.start_date DESC, o.id DESC LIMIT 1
) occ ON true
"""

STAGE_INVOICES = """
CREATE TEMP TABLE close_invoice (
    dwelling_id int, kind text, country_code text, currency text, tariff_id int,
    dwelling_type text, volume_l bigint, estimated bool, net bigint, vat bigint
) ON COMMIT DROP
"""

UPSERT_INVOICES = f"""
INSERT INTO invoice (kind, period_id, dwelling_id, customer_id, country_code, currency,
                     tariff_id, dwelling_type, period_days, volume_l, estimated,
                     net_minor, vat_minor, total_minor)
SELECT CAST(u.kind AS invoice_kind), :period_id, u.dwelling_id, occ.user_id, u.country_code,
       u.currency, u.tariff_id, CAST(u.dwelling_type AS dwelling_type), :days, u.volume_l,
       u.estimated, u.net, u.vat, u.net + u.vat
FROM close_invoice u
{_CUSTOMER}
ON CONFLICT (dwelling_id, period_id) WHERE kind <> 'regularisation' AND status <> 'void'
DO UPDATE SET kind = EXCLUDED.kind, customer_id = EXCLUDED.customer_id,
              tariff_id = EXCLUDED.tariff_id, dwelling_type = EXCLUDED.dwelling_type,
              period_days = EXCLUDED.period_days, volume_l = EXCLUDED.volume_l,
              estimated = EXCLUDED.estimated, net_minor = EXCLUDED.net_minor,
              vat_minor = EXCLUDED.vat_minor, total_minor = EXCLUDED.total_minor,
              computed_at = now()
    WHERE invoice.status = 'draft'
RETURNING id, dwelling_id
"""

# Column order of the rows the close hands to ``upsert_invoices`` and ``replace_content``.
INVOICE_COLUMNS = (
    "dwelling_id, kind, country_code, currency, tariff_id, dwelling_type, volume_l, estimated,"
    " net, vat"
)
LINE_COLUMNS = (
    "invoice_id, position, kind, amount_minor, block, lower_l, upper_l, volume_l, unit_price,"
    " vat_pct"
)
METER_COLUMNS = (
    "invoice_id, meter_id, opening_at, opening_index_l, opening_estimated, closing_at,"
    " closing_index_l, closing_estimated, volume_l"
)

UPSERT_HOLDS = """
INSERT INTO billing_hold (period_id, dwelling_id, meter_id, reason, detail)
SELECT :period_id, u.dwelling_id, u.meter_id, CAST(u.reason AS hold_reason), u.detail
FROM unnest(CAST(:dwelling_ids AS int[]), CAST(:meter_ids AS int[]), CAST(:reasons AS text[]),
            CAST(:details AS text[])) AS u(dwelling_id, meter_id, reason, detail)
ON CONFLICT (period_id, dwelling_id, reason) DO UPDATE
    SET meter_id = EXCLUDED.meter_id, detail = EXCLUDED.detail,
        -- A hold the close lifted itself comes back with its cause; an admin's release stays.
        released_at = CASE WHEN billing_hold.released_by IS NULL THEN NULL
                           ELSE billing_hold.released_at END
"""

# Holds of dwellings this run evaluated whose cause is gone are lifted (not deleted: the
# review trail stays).
LIFT_HOLDS = """
UPDATE billing_hold h SET released_at = now()
WHERE h.period_id = :period_id AND h.released_at IS NULL
  AND h.dwelling_id = ANY(CAST(:evaluated AS int[]))
  AND NOT EXISTS (
      SELECT 1 FROM unnest(CAST(:dwelling_ids AS int[]), CAST(:reasons AS text[])) c(d, r)
      WHERE c.d = h.dwelling_id AND c.r = h.reason::text
  )
"""

BILLED = """
SELECT i.dwelling_id, l.kind, l.block, sum(l.amount_minor)::bigint AS amount_minor,
       sum(l.volume_l)::bigint AS volume_l, max(l.lower_l) AS lower_l, max(l.upper_l) AS upper_l,
       max(l.unit_price) AS unit_price, max(l.vat_pct) AS vat_pct
FROM invoice i JOIN invoice_line l ON l.invoice_id = i.id
WHERE i.period_id = :period_id AND i.dwelling_id = ANY(CAST(:dwelling_ids AS int[]))
  AND i.status NOT IN ('draft', 'void')
GROUP BY i.dwelling_id, l.kind, l.block
"""

# Zones of issued months where a reading arrived after the month's figures were computed (and
# after the last late-data check), up to ``until``. A reading shortly outside the month can
# still move a boundary index (interpolation), hence the margin; one more day covers time zones.
LATE_ZONES = """
SELECT p.label, b.zone_id
FROM billing_period p
JOIN invoice i ON i.period_id = p.id
JOIN dwelling d ON d.id = i.dwelling_id
JOIN building b ON b.id = d.building_id
JOIN meter m ON m.dwelling_id = i.dwelling_id
WHERE p.end_date >= :oldest
  AND i.kind <> 'regularisation' AND i.status NOT IN ('draft', 'void')
  AND EXISTS (
      SELECT 1 FROM reading r
      WHERE r.meter_id = m.id
        AND r.time >= CAST(p.start_date - (:margin + 1) AS timestamp) AT TIME ZONE 'UTC'
        AND r.time < CAST(p.end_date + (:margin + 2) AS timestamp) AT TIME ZONE 'UTC'
        AND r.received_at > greatest(i.computed_at, p.late_checked_at)
        AND r.received_at <= :until
  )
GROUP BY p.label, b.zone_id
ORDER BY p.label, b.zone_id
"""

# Issued months checked for late data up to ``until`` (never moved back).
MARK_LATE_CHECKED = """
UPDATE billing_period p SET late_checked_at = :until
WHERE p.end_date >= :oldest
  AND (p.late_checked_at IS NULL OR p.late_checked_at < :until)
  AND EXISTS (
      SELECT 1 FROM invoice i WHERE i.period_id = p.id AND i.status NOT IN ('draft', 'void')
  )
"""
