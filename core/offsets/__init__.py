"""Moving a consumer group's committed offsets: plan, then apply.

- model.py: the frozen records: ResetTarget and ResetRequest (what was asked), PartitionReset
  and ResetPlan (what will happen, per partition), CommittedCheck and ResetResult (what the
  group coordinator read back), GroupActive (the refusal while the group has members).
- rules.py: pure rules: parse_target (a mode and value as typed), the offset a mode asks
  for, clamping and counting skip/replay per partition, build_plan, the re-check before
  applying, the audit fields and refusal words every face shares.
- groups.py: I/O on the wire: the group's state and members, the commit of an empty group's
  offsets (refused for members: GroupActive), the first offset at a time. The coordinator
  lookup and the committed offsets' read and write are core/kafka/groups.py's, which DR
  failover uses too.
- service.py: OffsetResetService: plan(request) reads and plans; apply(plan, actor=...,
  face=...) re-checks, commits, reads back and audits.
"""
