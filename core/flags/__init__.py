"""Feature flags on the compacted topic _kafkaops.flags.

Modules:
- `model`: the record layout (headers, key form), `FlagState` and its JSON form, the checks
  and parsers of values, rules, variants and rollouts, `FlagChange`; pure.
- `evaluation`: what a user gets from a flag (`evaluate`, `Evaluation`): sticky rollout
  buckets, targeting rules, variants; pure.
- `plan`: `FlagPlan` (a change before it is made: describe(), the state after with its
  version, the version it expects; to/from JSON) and the pure rules that build it.
- `store`: `FlagLog`, the fold every reader applies (the compare-and-set fold of
  kafkaops.core.statelog over the flags' layout), and `FlagStore`, the live reader.
- `writer`: `FlagWriter`, the lifecycle and the compare-and-set write path (audited);
  its docstring gives the layout and why rejected records are repaired.
- `service`: `FlagService`, what the faces use: reads, `plan_*`, `apply(plan, actor)`.
- `sdk`: `FlagClient`, the read-only cache a service embeds; `sdk_status`: its status
  report and snapshot file.
- `openfeature`: an OpenFeature provider over `FlagClient`.

`model`, `evaluation`, `store`, `sdk`, `sdk_status` and `openfeature` import neither the
writer nor the audit trail: a service embedding the SDK needs the plain install.
"""
