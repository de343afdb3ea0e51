"""Rate limits on the auth endpoints, per client IP and per phone number.

Sliding windows through the ``limits`` library's moving-window strategy: a call is refused while
``limit`` calls were accepted in the last ``throttle_window_s`` seconds, whatever the clock's
minute says (a fixed window lets twice the limit through across its edge). The counts live in
this process, or in Redis when ``auth.redis_url`` is set so that every API process shares them.
Refused calls are not counted, so hammering does not push the wait further out. Answered with 429
and Retry-After (the seconds until the oldest counted call leaves the window).

Ref: https://limits.readthedocs.io/en/stable/strategies.html#moving-window
"""

from __future__ import annotations

import time
from enum import StrEnum

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from core.config_auth import AuthSettings
from core.exceptions import TooManyRequests, Unavailable


class AuthEndpoint(StrEnum):
    LOGIN = "login"
    REGISTER = "register"
    ACTIVATE = "activate"
    RESEND = "resend"
    OTHER = "other"


def limit_of(settings: AuthSettings, endpoint: AuthEndpoint) -> int:
    limits = {
        AuthEndpoint.LOGIN: settings.throttle_login,
        AuthEndpoint.REGISTER: settings.throttle_register,
        AuthEndpoint.ACTIVATE: settings.throttle_activate,
        AuthEndpoint.RESEND: settings.throttle_resend,
        AuthEndpoint.OTHER: settings.throttle_other,
    }
    return limits[endpoint]


class RateLimiter:
    """A moving-window limiter over one storage (memory or Redis)."""

    def __init__(self, storage: Storage, pool: ConnectionPool | None = None) -> None:
        self._storage = storage
        self._pool = pool
        self._strategy = MovingWindowRateLimiter(storage)

    async def hit(self, key: str, *, limit: int, window_s: int) -> float | None:
        """Count one call; the seconds to wait when ``limit`` calls already fill the window."""
        item: RateLimitItem = RateLimitItemPerSecond(limit, window_s)
        try:
            if await self._strategy.hit(item, "waterbill", key):
                return None
            stats = await self._strategy.get_window_stats(item, "waterbill", key)
        except StorageError as exc:
            # Refuse rather than let sign-in go unthrottled while the shared counter is away.
            raise Unavailable("the rate limiter is unavailable; try again shortly") from exc
        return max(stats.reset_time - time.time(), 1.0)

    async def close(self) -> None:
        """Let go of the Redis connections; the shared counts stay for the other processes."""
        if self._pool is not None:
            await self._pool.disconnect()


def make_rate_limiter(settings: AuthSettings) -> RateLimiter:
    if settings.redis_url:
        # Our own pool, to close it with the app; redis-py is a dependency already (coredis, the
        # library's default client, is not).
        pool = ConnectionPool.from_url(settings.redis_url)
        storage = RedisStorage(
            f"async+{settings.redis_url}",
            implementation="redispy",
            wrap_exceptions=True,
            connection_pool=pool,  # type: ignore[arg-type]
        )
        return RateLimiter(storage, pool)
    return RateLimiter(MemoryStorage())


async def enforce(
    limiter: RateLimiter,
    settings: AuthSettings,
    endpoint: AuthEndpoint,
    *,
    ip: str | None = None,
    phone: str | None = None,
) -> None:
    """Count this call against the IP's and the phone's limits for ``endpoint``.

    Raises:
        TooManyRequests: either limit is exceeded.
    """
    limit = limit_of(settings, endpoint)
    for kind, value in (("ip", ip), ("phone", phone)):
        if value is None:
            continue
        wait = await limiter.hit(
            f"{endpoint.value}:{kind}:{value}", limit=limit, window_s=settings.throttle_window_s
        )
        if wait is not None:
            raise TooManyRequests(
                f"too many {endpoint.value} requests; try again later", retry_after_s=wait
            )
