-- Argo CD health check for rostering.k12.dev/DistrictRollover (Lua 5.1, as Argo CD runs it).
-- Reads the kstatus-style conditions the operator writes:
--   spec.suspend / Suspended=True          -> Suspended
--   status older than the spec generation  -> Progressing (the operator has not seen the edit yet)
--   Stalled=True or phase Failed           -> Degraded
--   Ready=True                             -> Healthy (also while waiting months for the pause date)
--   anything else (Reconciling=True, ...)  -> Progressing
local hs = {status = "Progressing", message = "Waiting for the operator to report status"}

local function condition(status, type)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  if c ~= nil and c.reason ~= nil then
    return c.reason
  end
  return fallback
end

local status = obj.status
local phase = (status ~= nil and status.phase) or "Pending"
local suspended = condition(status, "Suspended")

if (obj.spec ~= nil and obj.spec.suspend == true) or (suspended ~= nil and suspended.status == "True") then
  hs.status = "Suspended"
  hs.message = "spec.suspend is true: the operator takes no action"
  return hs
end
if status == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local stalled = condition(status, "Stalled")
local ready = condition(status, "Ready")
local reconciling = condition(status, "Reconciling")
if (stalled ~= nil and stalled.status == "True") or phase == "Failed" then
  hs.status = "Degraded"
  hs.message = phase .. ": " .. describe(stalled, "a step failed")
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = phase .. ": " .. describe(ready, "ready")
elseif reconciling ~= nil and reconciling.status == "True" then
  hs.message = phase .. ": " .. describe(reconciling, "in progress")
else
  hs.message = phase .. ": " .. describe(ready, "in progress")
end
return hs
