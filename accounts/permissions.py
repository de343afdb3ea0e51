"""Who may do what: the permission matrix of PRODUCT.md, deny by default.

Routes attach a rule with ``api.auth.guards.require``; reads are then narrowed to the objects the
user may reach with ``accounts.scope``.
"""

from __future__ import annotations

from enum import StrEnum

from accounts.models import Role, User


class Permission(StrEnum):
    PROFILE = "profile"  # one's own profile, data export and erasure
    BUILDINGS_READ = "buildings:read"
    BUILDINGS_WRITE = "buildings:write"
    DWELLINGS_READ = "dwellings:read"
    DWELLINGS_WRITE = "dwellings:write"
    OCCUPANTS_WRITE = "occupants:write"
    ABSENCES_WRITE = "absences:write"  # declare, list and cancel a dwelling's absences
    METERS_READ = "meters:read"
    METERS_WRITE = "meters:write"
    READINGS_READ = "readings:read"  # a meter's raw readings: staff only (the matrix)
    CONSUMPTION_READ = "consumption:read"  # hourly and daily volumes of the meters in reach
    READINGS_WRITE = "readings:write"
    INVOICES_READ = "invoices:read"
    PAYMENTS_WRITE = "payments:write"  # record cash/bank payments, decide late penalties
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    ROLES_WRITE = "roles:write"
    ASSIGNMENTS_WRITE = "assignments:write"
    TARIFFS_READ = "tariffs:read"
    TARIFFS_WRITE = "tariffs:write"
    BILLING_RUN = "billing:run"
    REPORTS_BASIC = "reports:basic"
    REPORTS_FIELD = "reports:field"
    REPORTS_FULL = "reports:full"
    QUARANTINE_MANAGE = "quarantine:manage"
    INGEST_STATUS = "ingest:status"
    AUDIT_READ = "audit:read"
    ROUNDS_READ = "rounds:read"  # today's round of meters to visit
    FAULTS_REPORT = "faults:report"
    FAULTS_MANAGE = "faults:manage"  # list every fault, resolve them
    INCIDENTS_READ = "incidents:read"  # anomalies of the meters in reach, with their evidence
    INCIDENTS_MANAGE = "incidents:manage"  # acknowledge and close them
    JOBS_READ = "jobs:read"  # the job queue: scheduled, running, failed
    JOBS_RUN = "jobs:run"  # queue a failed job again


# Tariffs are public prices: every signed-in user may read them and get a quote. Incidents and
# consumption are narrowed to the meters in reach like everything else.
_EVERYONE = {
    Permission.PROFILE,
    Permission.CONSUMPTION_READ,
    Permission.INCIDENTS_READ,
    Permission.METERS_READ,
    Permission.DWELLINGS_READ,
    Permission.TARIFFS_READ,
}

# Reads are then narrowed to the user's own objects by accounts.scope.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # The matrix gives customers no meter readings: their consumption is the volumes.
    Role.CUSTOMER: frozenset(_EVERYONE | {Permission.INVOICES_READ, Permission.ABSENCES_WRITE}),
    Role.MANAGER: frozenset(
        _EVERYONE
        | {
            Permission.BUILDINGS_READ,
            Permission.DWELLINGS_WRITE,
            Permission.OCCUPANTS_WRITE,
            Permission.ABSENCES_WRITE,
            Permission.READINGS_READ,
            Permission.INVOICES_READ,
            Permission.USERS_READ,
            Permission.USERS_WRITE,
            Permission.REPORTS_BASIC,
            Permission.INCIDENTS_MANAGE,
        }
    ),
    Role.TECHNICIAN: frozenset(
        _EVERYONE
        | {
            Permission.BUILDINGS_READ,
            Permission.READINGS_READ,
            Permission.READINGS_WRITE,
            Permission.REPORTS_FIELD,
            Permission.ROUNDS_READ,
            Permission.FAULTS_REPORT,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}


def has_permission(user: User, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[user.role]
