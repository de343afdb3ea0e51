"""Rate limits on the auth endpoints, per client IP and per phone number.

Fixed windows (``Settings.auth.throttle_window_s``): a counter per key and window, in memory for
one process, in Redis (``INCR`` + ``EXPIRE``) when ``auth.redis_url`` is set so that every API
process shares the counts. Answered with 429 and Retry-After (the seconds left in the window).
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Protocol

from redis.exceptions import RedisError

from core.config import AuthSettings
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


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window_s: int) -> float | None:
        """Count one hit; the seconds to wait when over the limit, else None."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Counters in this process; enough for a single API process."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    async def hit(self, key: str, *, limit: int, window_s: int) -> float | None:
        now = time.time()
        window = int(now // window_s)
        if len(self._counts) > 100_000:
            # Drop finished windows now and then so memory stays bounded.
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
        count = self._counts.get((key, window), 0) + 1
        self._counts[(key, window)] = count
        if count > limit:
            return (window + 1) * window_s - now
        return None

    async def close(self) -> None:
        self._counts.clear()


class RedisRateLimiter:
    """Counters in Redis, shared by every API process that points at it."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self._redis = redis.asyncio.Redis.from_url(url)

    async def hit(self, key: str, *, limit: int, window_s: int) -> float | None:
        now = time.time()
        window = int(now // window_s)
        redis_key = f"waterbill:throttle:{key}:{window}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(redis_key)
                pipe.expire(redis_key, window_s + 1)
                count, _ = await pipe.execute()
        except RedisError as exc:
            # Refuse rather than let sign-in go unthrottled while the shared counter is away.
            raise Unavailable("the rate limiter is unavailable; try again shortly") from exc
        if int(count) > limit:
            return (window + 1) * window_s - now
        return None

    async def close(self) -> None:
        await self._redis.aclose()


def make_rate_limiter(settings: AuthSettings) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url)
    return MemoryRateLimiter()


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
