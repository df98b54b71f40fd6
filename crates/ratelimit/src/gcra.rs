//! The shared bucket: GCRA in one Lua script, run atomically by Redis on one key per tenant.

use std::time::Duration;

use common::config::PlanLimit;

/// One decision, atomically, on Redis' own clock.
///
/// KEYS[1] is the tenant's key. ARGV[1] is the emission interval in microseconds (the time one
/// request takes to come back), ARGV[2] the burst (the requests a full bucket holds). ARGV[3],
/// given only under a test's manual clock ([`common::clock::Clock`]), is the epoch microsecond
/// to decide at instead of Redis' clock. The key
/// holds the theoretical arrival time (TAT): the epoch microsecond at which the bucket is full
/// again. A request passes when, charged one interval, the TAT stays within `burst` intervals
/// of now.
///
/// Everything is whole microseconds, held exactly by Lua's doubles (far below 2^53), so the
/// `burst` requests of a full bucket all pass however the interval divides.
///
/// Replies `{allowed (0/1), remaining, retry-after ms, reset ms}`: `remaining` counts the
/// requests that would pass right now after this one, `reset` is the time until the bucket is
/// full again. Both times are rounded up, so a client waiting that long is not refused for
/// coming back early.
pub(crate) const SCRIPT: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local capacity = interval * burst

-- Redis' clock, the same for every gateway replica. Redis 7 replicates a script's effects,
-- not the script, so a write after TIME is allowed.
local now
if ARGV[3] then
  now = tonumber(ARGV[3])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end

-- pcall: a key of another type is as unreadable as text, NaN or infinity, and all of them
-- count as a full bucket instead of failing the request.
local stored = tonumber(redis.pcall('GET', KEYS[1]))
if stored == nil or not (stored > -math.huge and stored < math.huge) then
  stored = now
end

-- An idle bucket is full, never fuller. A TAT more than one bucket ahead (left by a larger
-- limit, as before a plan downgrade, or by someone else) means an empty bucket, not a debt.
local tat = math.min(math.max(stored, now), now + capacity)
local charged = tat + interval
local allowed = charged - now <= capacity
if allowed then
  tat = charged
end
if allowed or stored > tat then
  -- Expires when the bucket is full again: then a missing key means the same.
  local ttl_ms = math.max(1, math.ceil((tat - now) / 1000))
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', ttl_ms)
end

local remaining = math.floor((capacity - (tat - now)) / interval)
local retry_after_ms = 0
if not allowed then
  retry_after_ms = math.ceil((charged - now - capacity) / 1000)
end
return {allowed and 1 or 0, remaining, retry_after_ms, math.ceil((tat - now) / 1000)}
";

/// A plan limit as the script's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GcraParams {
    /// Microseconds between two requests at the sustained rate, rounded to the nearest one.
    /// Exact for every limit that divides a minute into whole microseconds, the plans'
    /// defaults among them; otherwise off by at most half a microsecond per request.
    pub(crate) interval_us: u64,
    pub(crate) burst: u32,
}

impl GcraParams {
    /// A zero in either field (which configuration never produces) counts as one, so a
    /// hand-built limit cannot divide by zero in Redis.
    pub(crate) fn new(limit: PlanLimit) -> Self {
        let per_minute = u64::from(limit.per_minute.max(1));
        let interval_us = ((60_000_000 + per_minute / 2) / per_minute).max(1);
        Self {
            interval_us,
            burst: limit.burst.max(1),
        }
    }

    /// The script's arguments; `now_us` only under a manual clock (Redis' own otherwise).
    pub(crate) fn args(self, now_us: Option<i64>) -> Vec<i64> {
        let mut args = vec![
            i64::try_from(self.interval_us).unwrap_or(i64::MAX),
            i64::from(self.burst),
        ];
        args.extend(now_us);
        args
    }
}

/// What the script decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) allowed: bool,
    pub(crate) remaining: u32,
    pub(crate) retry_after: Duration,
    pub(crate) reset_after: Duration,
}

/// The script's reply was not its four integers (say, another script under the same name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the rate limit script replied {0:?}, not [allowed, remaining, retry-after ms, reset ms]")]
pub(crate) struct UnexpectedReply(pub(crate) Vec<i64>);

impl Outcome {
    pub(crate) fn from_reply(reply: Vec<i64>) -> Result<Self, UnexpectedReply> {
        let millis = |ms: i64| u64::try_from(ms).ok().map(Duration::from_millis);
        match reply[..] {
            [allowed @ (0 | 1), remaining, retry_ms, reset_ms] => {
                match (
                    u32::try_from(remaining).ok(),
                    millis(retry_ms),
                    millis(reset_ms),
                ) {
                    (Some(remaining), Some(retry_after), Some(reset_after)) => Ok(Self {
                        allowed: allowed == 1,
                        remaining,
                        retry_after,
                        reset_after,
                    }),
                    _ => Err(UnexpectedReply(reply)),
                }
            }
            _ => Err(UnexpectedReply(reply)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_minute: u32, burst: u32) -> PlanLimit {
        PlanLimit { per_minute, burst }
    }

    #[test]
    fn the_plans_defaults_have_exact_intervals() {
        assert_eq!(GcraParams::new(limit(100, 150)).interval_us, 600_000);
        assert_eq!(GcraParams::new(limit(500, 750)).interval_us, 120_000);
        assert_eq!(GcraParams::new(limit(2000, 3000)).interval_us, 30_000);
        assert_eq!(GcraParams::new(limit(60, 5)).interval_us, 1_000_000);
    }

    #[test]
    fn odd_limits_round_to_the_nearest_microsecond_and_zeroes_count_as_one() {
        // 60e6 / 7 = 8_571_428.57…
        assert_eq!(GcraParams::new(limit(7, 1)).interval_us, 8_571_429);
        assert_eq!(
            GcraParams::new(limit(0, 0)),
            GcraParams {
                interval_us: 60_000_000,
                burst: 1
            }
        );
        assert_eq!(GcraParams::new(limit(u32::MAX, 1)).interval_us, 1);
        assert_eq!(GcraParams::new(limit(60, 5)).args(None), vec![1_000_000, 5]);
        assert_eq!(
            GcraParams::new(limit(60, 5)).args(Some(7)),
            vec![1_000_000, 5, 7]
        );
    }

    #[test]
    fn replies_are_read_and_checked() {
        assert_eq!(
            Outcome::from_reply(vec![0, 0, 1_200, 5_000]),
            Ok(Outcome {
                allowed: false,
                remaining: 0,
                retry_after: Duration::from_millis(1_200),
                reset_after: Duration::from_secs(5),
            })
        );
        assert!(Outcome::from_reply(vec![1, 4, 0, 1_000]).unwrap().allowed);
        for bad in [vec![], vec![1, 4, 0], vec![2, 4, 0, 1], vec![1, -1, 0, 1]] {
            assert_eq!(Outcome::from_reply(bad.clone()), Err(UnexpectedReply(bad)));
        }
    }
}
