"""Consumer lag: snapshots of every group's lag, each partition's status judged over a window.

- `model`: the frozen records of a snapshot (`LagSnapshot`, `GroupLag`, `TopicLag`,
  `PartitionLag`, `GroupMember`) and the words for how statuses were judged
  (`status_basis`, `group_basis`, the config's `lag_policy`).
- `status`: pure verdict rules: `Status`, `PartitionState`, `Trend`, `LagPolicy`, a
  partition judged from one snapshot or over a window of points, rates, ETA, `age`.
- `history`: the recent snapshots per group (`LagHistory`, `Sample`), judging a partition
  over them, and hysteresis (`settle`).
- `requests`: the wire requests of a snapshot (Metadata, ListGroups, FindCoordinator,
  OffsetFetch, DescribeGroups, the Fetch of log ends), older forms for older brokers.
- `timestamps`: lag in seconds, from the timestamp of each lagging group's next record.
- `service`: `LagService`, which takes a snapshot and builds its records.
"""
