-- Applies changes to the cache only where they are not older than what the cache holds.
-- Cluster-safe: a call only touches the keys it is given, and each cache key's position
-- key shares its slot (the caller groups calls by slot), so it never reads a key it was
-- not given. The table's truncate floor comes in ARGV, read by the caller.
--
-- batch: KEYS[2i-1] the i-th change's cache key, KEYS[2i] its position key (holding the
--   position, 32 lower-case hex digits, of the last change applied to the key).
--   ARGV[1] "batch", ARGV[2] ttl in seconds (0 none), ARGV[3] the seconds a deleted key's
--   position is kept, then per change: op (json | hash | jsonk | hashk | del), position,
--   the table's truncate floor ("" for none), the number n of its arguments, and those n
--   arguments:
--     json: the value; hash: field, value, field, value, …
--     jsonk, hashk ("keep"): the number u of unchanged columns, their u names (for jsonk
--     as JSON strings, the way the value spells its keys), then as for json and hash.
--     Unchanged columns (TOASTed values an update left alone) keep the value the cache
--     holds; the value sent lacks them.
--   Returns an array with, per change, 0 when skipped as older, 1 when applied, 1 + n when
--   applied with n unchanged columns left out because the cache held no earlier value;
--   a change that fails is an error element, and the changes after it still apply.
-- trunc: KEYS[1] the table's floor key; ARGV[1] "trunc", ARGV[2] the truncate's position.
--   Raises the floor; returns 1, or 0 when older than the floor.
-- clean: KEYS as for batch; ARGV[1] "clean", ARGV[2] the floor. Deletes each key whose
--   position is older than the floor, with its position; returns how many.
--
-- A key's position is kept as long as the key (ttl + the deletion window when ttl is set)
-- and, after a delete, for the deletion window: a replayed older insert within it cannot
-- bring the row back, and no position outlives its window.
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

-- Applies one change to `key` (position key `vkey`); its op's arguments are ARGV[a..b].
-- Returns 0 (older), or 1 + the number of unchanged columns the cache held no value for.
local function apply_one(key, vkey, op, pos, floor, ttl, window, a, b)
  if floor ~= '' and older(pos, floor) then return 0 end
  local current = redis.call('GET', vkey)
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
    -- A delete keeps its position for the window: a replayed older insert must not bring
    -- the row back.
    redis.call('SET', vkey, pos, 'EX', window)
    return 1
  else
    return redis.error_reply('ERR unknown op ' .. tostring(op))
  end
  if ttl > 0 then
    redis.call('SET', vkey, pos, 'EX', ttl + window)
  else
    redis.call('SET', vkey, pos)
  end
  return 1 + missing
end

local op = ARGV[1]

if op == 'batch' then
  -- Each change's error becomes its own element of the reply, so the changes after it
  -- still apply, as separate commands in a pipeline would.
  local ttl = tonumber(ARGV[2])
  local window = tonumber(ARGV[3])
  local results = {}
  local at = 4
  for k = 1, #KEYS / 2 do
    local cop, cpos, floor, n = ARGV[at], ARGV[at + 1], ARGV[at + 2], tonumber(ARGV[at + 3])
    local ok, result = pcall(apply_one, KEYS[2 * k - 1], KEYS[2 * k], cop, cpos, floor, ttl, window, at + 4, at + 3 + n)
    if ok then
      results[k] = result
    else
      local message = type(result) == 'table' and result.err or tostring(result)
      results[k] = { err = message }
    end
    at = at + 4 + n
  end
  return results
end

if op == 'trunc' then
  local floor = redis.call('GET', KEYS[1])
  if floor and older(ARGV[2], floor) then return 0 end
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end

if op == 'clean' then
  local floor = ARGV[2]
  local n = 0
  for k = 1, #KEYS / 2 do
    local v = redis.call('GET', KEYS[2 * k])
    if v and older(v, floor) then
      redis.call('DEL', KEYS[2 * k - 1], KEYS[2 * k])
      n = n + 1
    end
  end
  return n
end

return redis.error_reply('ERR unknown op ' .. tostring(op))
