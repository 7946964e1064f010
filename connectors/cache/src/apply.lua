-- Applies one change to the cache only if it is not older than what the cache holds.
--
-- KEYS[1]  the versions hash: cache key -> position hex of the last applied change,
--          and "__truncate__:<schema>.<table>" -> position hex of the table's last TRUNCATE
-- KEYS[2…] the cache key (json, hash, del), or the keys to clean (clean)
-- ARGV[1]  op: json | hash | del | trunc | clean
-- ARGV[2]  the change's position: 32 lower-case hex digits (unused by clean)
-- ARGV[3]  the table's truncate-floor field
-- ARGV[4]  ttl in seconds, 0 for none
-- ARGV[5…] json: the value; hash: field, value, field, value, …
--
-- Returns 1 when applied, 0 when skipped as older; clean returns the number deleted.
-- Positions compare in 8-digit chunks as numbers: Lua numbers are doubles (not exact for
-- 64 bits) and Lua's string '<' follows the server's collation locale, not bytes.

local function older(a, b)
  if a == b then return false end
  for i = 1, 32, 8 do
    local x = tonumber(string.sub(a, i, i + 7), 16) or -1
    local y = tonumber(string.sub(b, i, i + 7), 16) or -1
    if x ~= y then return x < y end
  end
  return false
end

local versions = KEYS[1]
local op = ARGV[1]
local floor = redis.call('HGET', versions, ARGV[3])

if op == 'clean' then
  if not floor then return 0 end
  local n = 0
  for i = 2, #KEYS do
    local v = redis.call('HGET', versions, KEYS[i])
    if v and older(v, floor) then
      redis.call('DEL', KEYS[i])
      redis.call('HDEL', versions, KEYS[i])
      n = n + 1
    end
  end
  return n
end

local pos = ARGV[2]
if floor and older(pos, floor) then return 0 end
if op == 'trunc' then
  redis.call('HSET', versions, ARGV[3], pos)
  return 1
end

local key = KEYS[2]
local current = redis.call('HGET', versions, key)
if current and older(pos, current) then return 0 end
local ttl = tonumber(ARGV[4])
if op == 'json' then
  if ttl > 0 then
    redis.call('SET', key, ARGV[5], 'EX', ttl)
  else
    redis.call('SET', key, ARGV[5])
  end
elseif op == 'hash' then
  redis.call('DEL', key)
  if #ARGV > 4 then
    redis.call('HSET', key, unpack(ARGV, 5))
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  end
elseif op == 'del' then
  redis.call('DEL', key)
else
  return redis.error_reply('ERR unknown op ' .. tostring(op))
end
-- A delete keeps its version: a replayed older insert must not bring the row back.
redis.call('HSET', versions, key, pos)
return 1
