-- Applies one change to the cache only if it is not older than what the cache holds.
--
-- KEYS[1]  the versions hash: cache key -> position hex of the last applied change,
--          and "__truncate__:<schema>.<table>" -> position hex of the table's last TRUNCATE
-- KEYS[2…] the cache key (json, hash, del), or the keys to clean (clean)
-- ARGV[1]  op: json | hash | jsonk | hashk | del | trunc | clean
-- ARGV[2]  the change's position: 32 lower-case hex digits (unused by clean)
-- ARGV[3]  the table's truncate-floor field
-- ARGV[4]  ttl in seconds, 0 for none
-- ARGV[5…] json: the value; hash: field, value, field, value, …
--          jsonk, hashk ("keep"): ARGV[5] the number u of unchanged columns, ARGV[6…5+u]
--          their names (for jsonk as JSON strings, the way the value spells its keys),
--          then as for json and hash. Unchanged columns (TOASTed values an update left
--          alone) keep the value the cache holds; the value sent lacks them.
--
-- Returns 0 when skipped as older, 1 when applied, 1 + n when applied with n unchanged
-- columns left out because the cache held no earlier value for them; clean returns the
-- number deleted.
--
-- batch: many changes in one call (one round of the script per batch, not per change).
--   KEYS[1] the versions hash, KEYS[1+i] the i-th change's cache key;
--   ARGV[1] "batch", ARGV[2] ttl, then per change: op (json | hash | jsonk | hashk | del),
--   position, truncate-floor field, the number n of its arguments, and those n arguments
--   (what ARGV[5…] holds for a single change). Returns an array of the single results; a
--   change that fails is an error element, and the changes after it still apply.
--   Truncates are never in a batch (the caller sends each alone, then cleans).
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

-- The index after the JSON string starting at s[i] ('"').
local function skip_string(s, i)
  local j = i + 1
  while true do
    local at, _, c = string.find(s, '(["\\])', j)
    if not at then return #s + 1 end
    if c == '"' then return at + 1 end
    j = at + 2
  end
end

-- The index after the JSON value starting at s[i], for compact JSON (no whitespace).
local function skip_value(s, i)
  local c = string.sub(s, i, i)
  if c == '"' then return skip_string(s, i) end
  if c == '{' or c == '[' then
    local depth = 0
    local j = i
    while true do
      local at, _, d = string.find(s, '(["%[%]{}])', j)
      if not at then return #s + 1 end
      if d == '"' then
        j = skip_string(s, at)
      else
        if d == '{' or d == '[' then depth = depth + 1 else depth = depth - 1 end
        j = at + 1
        if depth == 0 then return j end
      end
    end
  end
  local at = string.find(s, '[,}%]]', i)
  return at or #s + 1
end

-- The top-level members of a compact JSON object: raw key text (quoted) -> raw value text.
local function members(s)
  local out = {}
  if string.sub(s, 1, 1) ~= '{' then return out end
  local i = 2
  while i <= #s do
    local c = string.sub(s, i, i)
    if c == '}' then break end
    if c == ',' then i = i + 1 end
    local k = i
    i = skip_string(s, i)
    local name = string.sub(s, k, i - 1)
    local v = i + 1
    i = skip_value(s, v)
    out[name] = string.sub(s, v, i - 1)
  end
  return out
end

-- Applies one change to `key`; its op's arguments are ARGV[a..b]. Returns 0 (older), or
-- 1 + the number of unchanged columns the cache held no value for.
local function apply_one(versions, key, op, pos, floor, ttl, a, b)
  if floor and older(pos, floor) then return 0 end
  local current = redis.call('HGET', versions, key)
  if current and older(pos, current) then return 0 end
  local missing = 0
  -- The unchanged columns' names, and where the value (json) or fields (hash) start.
  local unchanged = {}
  local first = a
  if op == 'jsonk' or op == 'hashk' then
    local u = tonumber(ARGV[a])
    for i = 1, u do unchanged[i] = ARGV[a + i] end
    first = a + 1 + u
  end
  if op == 'json' or op == 'jsonk' then
    local value = ARGV[first]
    if #unchanged > 0 then
      -- A key of another type (value.format changed) holds nothing to keep.
      local old = redis.call('TYPE', key).ok == 'string' and redis.call('GET', key)
      local held = old and members(old) or {}
      local parts = {}
      for _, name in ipairs(unchanged) do
        local v = held[name]
        if v then
          parts[#parts + 1] = name .. ':' .. v
        else
          missing = missing + 1
        end
      end
      if #parts > 0 then
        local sep = (value == '{}') and '' or ','
        value = string.sub(value, 1, -2) .. sep .. table.concat(parts, ',') .. '}'
      end
    end
    if ttl > 0 then
      redis.call('SET', key, value, 'EX', ttl)
    else
      redis.call('SET', key, value)
    end
  elseif op == 'hash' or op == 'hashk' then
    local kept = {}
    if #unchanged > 0 and redis.call('TYPE', key).ok == 'hash' then
      local old = redis.call('HMGET', key, unpack(unchanged))
      for i, name in ipairs(unchanged) do
        if old[i] then
          kept[#kept + 1] = name
          kept[#kept + 1] = old[i]
        else
          missing = missing + 1
        end
      end
    else
      missing = #unchanged
    end
    redis.call('DEL', key)
    if b >= first then redis.call('HSET', key, unpack(ARGV, first, b)) end
    if #kept > 0 then redis.call('HSET', key, unpack(kept)) end
    if ttl > 0 and (b >= first or #kept > 0) then redis.call('EXPIRE', key, ttl) end
  elseif op == 'del' then
    redis.call('DEL', key)
  else
    return redis.error_reply('ERR unknown op ' .. tostring(op))
  end
  -- A delete keeps its version: a replayed older insert must not bring the row back.
  redis.call('HSET', versions, key, pos)
  return 1 + missing
end

local versions = KEYS[1]
local op = ARGV[1]

if op == 'batch' then
  -- Many changes in one call: each one's error becomes its own element of the reply, so
  -- the changes after it still apply, as separate commands in a pipeline would.
  local ttl = tonumber(ARGV[2])
  local floors = {}
  local results = {}
  local at = 3
  for k = 2, #KEYS do
    local cop, cpos, field, n = ARGV[at], ARGV[at + 1], ARGV[at + 2], tonumber(ARGV[at + 3])
    local floor = floors[field]
    if floor == nil then
      floor = redis.call('HGET', versions, field)
      floors[field] = floor
    end
    local ok, result = pcall(apply_one, versions, KEYS[k], cop, cpos, floor, ttl, at + 4, at + 3 + n)
    if ok then
      results[k - 1] = result
    else
      local message = type(result) == 'table' and result.err or tostring(result)
      results[k - 1] = { err = message }
    end
    at = at + 4 + n
  end
  return results
end

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
if op == 'trunc' then
  if floor and older(pos, floor) then return 0 end
  redis.call('HSET', versions, ARGV[3], pos)
  return 1
end

return apply_one(versions, KEYS[2], op, pos, floor, tonumber(ARGV[4]), 5, #ARGV)
