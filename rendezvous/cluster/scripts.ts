/**
 * The Lua scripts the cluster runs in Redis: each is atomic there, so two
 * nodes racing for a lease or a name see one order. Values are those of
 * lease-value.ts; Lua reads their first words only (it cannot check a MAC),
 * nodes check the MACs of what they read.
 *
 * The owner's lease key is built inside CLAIM and LOOKUP from a prefix
 * (the owner is only known there): fine on a single Redis (the recommended
 * setup), not on Redis Cluster, which wants every key declared.
 */

/**
 * KEYS[1] the lease key; ARGV[1] our value, ARGV[2] TTL ms.
 * 1 = our value was there, TTL reset; 2 = missing, now ours; 0 = another value holds it.
 */
export const RENEW_LEASE = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if cur == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
`;

/**
 * KEYS[1] the claimer's lease key, KEYS[2..n] claim keys;
 * ARGV[1] node, ARGV[2] incarnation, ARGV[3] claim TTL ms, ARGV[4] lease key prefix,
 * ARGV[5..] the claim value for each claim key, in order.
 *
 * Without a live lease of this incarnation: {"no-lease"}. Otherwise one
 * answer per name: "ok" (free or already ours: now ours, TTL reset),
 * "took-over" (held by a node whose lease lapsed, or by garbage), or
 * "taken <node>" (a live node holds it: the first live claim wins).
 */
export const CLAIM = `
local own = redis.call('GET', KEYS[1])
if own == false or string.match(own, '^(%S+)') ~= ARGV[2] then
  return {'no-lease'}
end
local out = {}
for i = 2, #KEYS do
  local value = ARGV[3 + i]
  local cur = redis.call('GET', KEYS[i])
  local answer = 'ok'
  if cur ~= false then
    local node, inc = string.match(cur, '^(%S+) (%S+) ')
    if node ~= ARGV[1] or inc ~= ARGV[2] then
      local lease = false
      if node then lease = redis.call('GET', ARGV[4] .. node) end
      if lease and string.match(lease, '^(%S+)') == inc then
        answer = 'taken ' .. node
      else
        answer = 'took-over'
      end
    end
  end
  if string.sub(answer, 1, 5) ~= 'taken' then
    redis.call('SET', KEYS[i], value, 'PX', ARGV[3])
  end
  out[#out + 1] = answer
end
return out
`;

/**
 * KEYS[1] a claim key; ARGV[1] lease key prefix.
 * {claim value, owner's lease value} when the owner's lease is live with
 * the claim's incarnation; nil otherwise.
 */
export const LOOKUP = `
local cur = redis.call('GET', KEYS[1])
if cur == false then return false end
local node, inc = string.match(cur, '^(%S+) (%S+) ')
if not node then return false end
local lease = redis.call('GET', ARGV[1] .. node)
if lease == false or string.match(lease, '^(%S+)') ~= inc then return false end
return {cur, lease}
`;

/** KEYS[1] a claim key; ARGV[1] node, ARGV[2] incarnation. Deletes it if it is that incarnation's: 1, else 0. */
export const RELEASE = `
local cur = redis.call('GET', KEYS[1])
if cur == false then return 0 end
local node, inc = string.match(cur, '^(%S+) (%S+) ')
if node == ARGV[1] and inc == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

/**
 * KEYS[1] the addressee's lease key; ARGV[1] its incarnation, ARGV[2] its
 * channel, ARGV[3] the frame. -1 when that incarnation holds no live lease
 * (a frozen node still has its subscription open: PUBLISH alone would count
 * it); otherwise PUBLISH's count of receivers.
 */
export const SEND = `
local lease = redis.call('GET', KEYS[1])
if lease == false or string.match(lease, '^(%S+)') ~= ARGV[1] then return -1 end
return redis.call('PUBLISH', ARGV[2], ARGV[3])
`;
