"""The global upstream token bucket in Redis (used when the broker is Redis).

Each operation is one Lua script run with EVALSHA (redis-py's ``Script`` loads it and retries on NOSCRIPT), so it
is atomic across every worker. Time is the Redis server's clock (``TIME``), not the workers', so skewed worker
clocks cannot hand out extra tokens. The bucket math mirrors ``shared.limits.base.refill/take/penalize``
line for line; a test checks the two agree.

Keys: ``hookline:limits:bucket:<kind>`` (hash: tokens, rate, updated_at, penalty_until).
"""

from __future__ import annotations

import redis

from shared.limits.base import MIN_RATE_FACTOR, MIN_WAIT, BucketPolicy, Clock, UpstreamLimiter, pause_for

KEY_PREFIX = "hookline:limits:"

# KEYS[1] bucket hash. ARGV: op ("take" | "penalize"), rate (0: none), burst, recovery_s, now ("" : server clock),
# pause_s (penalize only). Returns the wait in seconds as a string (Lua numbers come back truncated to integers).
BUCKET_LUA = """
if redis.replicate_commands then redis.replicate_commands() end  -- Redis < 5: allow writes after TIME
local key, op = KEYS[1], ARGV[1]
local base, burst, recovery = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local min_rate_factor, min_wait = tonumber(ARGV[7]), tonumber(ARGV[8])
local now
if ARGV[5] ~= '' then now = tonumber(ARGV[5]) else
  local t = redis.call('TIME'); now = tonumber(t[1]) + tonumber(t[2]) / 1000000 end
local f = redis.call('HMGET', key, 'tokens', 'rate', 'updated_at', 'penalty_until')
local tokens, rate, updated, penalty = burst, base, now, 0
if f[1] then tokens, rate, updated, penalty = tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), tonumber(f[4]) end

local function refill()
  if base <= 0 or now <= updated then return end
  local r = rate
  if r <= 0 or r > base then r = base end
  local elapsed, slope = now - updated, base / (2 * recovery)
  local new_rate, gained
  if r < base then
    local ramp = (base - r) / slope
    if elapsed <= ramp then
      new_rate = r + slope * elapsed
      gained = elapsed * (r + new_rate) / 2
    else
      new_rate = base
      gained = ramp * (r + base) / 2 + (elapsed - ramp) * base
    end
  else
    new_rate = base
    gained = elapsed * base
  end
  tokens, rate, updated = math.min(burst, tokens + gained), new_rate, now
end

local function store()
  redis.call('HSET', key, 'tokens', tokens, 'rate', rate, 'updated_at', updated, 'penalty_until', penalty)
end

if op == 'take' then
  if now < penalty then return string.format('%.17g', penalty - now) end
  if base <= 0 then return '0' end
  refill()
  if tokens >= 1 then
    tokens = tokens - 1
    store()
    return '0'
  end
  return string.format('%.17g', math.max((1 - tokens) / rate, min_wait))
end

-- penalize
local until_ = now + tonumber(ARGV[6])
if now < penalty then
  penalty = math.max(penalty, until_)
  updated = math.max(updated, penalty)
else
  refill()
  if base > 0 then rate = math.max(rate / 2, base * min_rate_factor) else rate = 0 end
  tokens, updated, penalty = math.min(1, burst), until_, until_
end
store()
return '0'
"""


class RedisLimiter(UpstreamLimiter):
    def __init__(self, url: str, policy: BucketPolicy, *, clock: Clock | None = None) -> None:
        self.policy = policy
        self._clock = clock  # None: the Redis server's clock
        self._redis = redis.Redis.from_url(url)
        self._bucket_script = self._redis.register_script(BUCKET_LUA)

    def _now_arg(self) -> str:
        return "" if self._clock is None else repr(self._clock())

    def _run_bucket(self, op: str, kind: str, pause: float = 0.0) -> float:
        args: list[str | float] = [op, self.policy.rate or 0.0, self.policy.burst, self.policy.recovery_seconds,
                                   self._now_arg(), pause, MIN_RATE_FACTOR, MIN_WAIT]
        return float(self._bucket_script(keys=[KEY_PREFIX + "bucket:" + kind], args=args))

    def try_acquire(self, kind: str = "call") -> float:
        return self._run_bucket("take", kind)

    def penalize(self, retry_after: float | None, kind: str = "call") -> None:
        self._run_bucket("penalize", kind, pause_for(retry_after))
