//! The Lua scripts bidgate runs in Redis, each atomic there, and what their keys look like.
//!
//! Keys carry a hash tag (`{u:…}`, `{li:…}`, `{p:…}`) so that a Redis Cluster keeps what
//! one script touches (one listener's caps, one line item's budget, one partner's window)
//! in one slot.

use std::sync::LazyLock;

/// Frequency caps: `KEYS[1]` is the listener's hash `…:fc:{u:<user>}`, a field per
/// `<line item>|<period_s>|<window>`. `ARGV[1]` = now (unix s), `ARGV[2]` = the longest cap
/// period (the hash's TTL), `ARGV[3..]` = the fields to count one impression in. Fields of
/// windows that are over are dropped on the way, so the hash stays the size of the
/// listener's open windows.
pub static CAPS_RECORD: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local now = tonumber(ARGV[1])
for i = 3, #ARGV do redis.call('HINCRBY', KEYS[1], ARGV[i], 1) end
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  local period, window = string.match(f, '|(%d+)|(%d+)$')
  if period and (tonumber(window) + 1) * tonumber(period) <= now then
    redis.call('HDEL', KEYS[1], f)
  end
end
local ttl = tonumber(ARGV[2])
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
",
    )
});

/// Pacing leases: `KEYS[1]` is the line item's hash `…:pace:{li:<id>}`. `ARGV[1]` = its
/// TTL (s); then two groups (impressions, spend) of five: the ask, then twice a granted
/// counter's field and its goal (goal 0 = no goal of that kind; the total goal and today's).
/// Each group grants `min(ask, goal − granted)` over its goals, adds the grant to both
/// counters: the sum of all grants never passes a goal. Returns both grants, then the four
/// counters after them (what all replicas were granted: total and today, impressions and
/// spend), which pacing reads as delivery so far.
pub static LEASE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local out = {}
for i = 2, #ARGV, 5 do
  local grant = tonumber(ARGV[i])
  for j = 0, 1 do
    local goal = tonumber(ARGV[i + 2 + 2 * j])
    if goal > 0 then
      local used = tonumber(redis.call('HGET', KEYS[1], ARGV[i + 1 + 2 * j]) or '0')
      grant = math.min(grant, math.max(goal - used, 0))
    end
  end
  for j = 0, 1 do
    if tonumber(ARGV[i + 2 + 2 * j]) > 0 and grant > 0 then
      redis.call('HINCRBY', KEYS[1], ARGV[i + 1 + 2 * j], grant)
    end
  end
  table.insert(out, grant)
end
for i = 2, #ARGV, 5 do
  for j = 0, 1 do
    table.insert(out, tonumber(redis.call('HGET', KEYS[1], ARGV[i + 1 + 2 * j]) or '0'))
  end
end
local ttl = tonumber(ARGV[1])
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
return out
",
    )
});

/// Gives back what a lease did not spend: `KEYS[1]` as for `LEASE`, `ARGV` = pairs of a
/// granted counter's field and the amount to take off it (never below zero).
pub static LEASE_RETURN: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
for i = 1, #ARGV, 2 do
  local used = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  local back = math.min(tonumber(ARGV[i + 1]), used)
  if back > 0 then redis.call('HINCRBY', KEYS[1], ARGV[i], -back) end
end
return 1
",
    )
});

/// Partner QPS tokens: `KEYS[1]` is the partner's counter for one second
/// `…:qps:{p:<id>}:<unix s>`. `ARGV[1]` = its `qps_limit`, `ARGV[2]` = the ask. Grants
/// `min(ask, limit − taken)`: over every replica, at most `qps_limit` per second window.
pub static QPS_LEASE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local taken = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[2]), math.max(tonumber(ARGV[1]) - taken, 0))
if grant > 0 then redis.call('INCRBY', KEYS[1], grant) end
redis.call('EXPIRE', KEYS[1], 2)
return grant
",
    )
});

/// The cap counter field of one line item, period and window (see `CAPS_RECORD`).
pub fn cap_field(line_item: &str, period_s: u64, window: u64) -> String {
    format!("{line_item}|{period_s}|{window}")
}
