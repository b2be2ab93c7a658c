"""One compare-and-set log decided by log order, used by flags, confirmations and DR control.

Modules:
- `fold`: the rule, pure: `Proposal` (one record read as "version n+1 expects n" for a key),
  `CasFold` (folds records in log order into the state in force per key: the first such
  write in the log wins, later ones are rejected, records that are not writes are ignored
  and noted) and `Decision` (what it made of each record).
- `signing`: HMAC-SHA256 signatures over a record's JSON fields, for logs whose records
  are verified with the caller's key.
- `outcomes`: `Outcomes`, how a writer learns by its write id whether its record won.
- `topic`: the log on partition 0 of a topic, folded on demand: `Follower` (read to the
  end now) and `CasTopic` (`put` a record, or `propose` one and read the log back past it).

`fold`, `signing` and `outcomes` load no Kafka client, so the flags SDK's reader can use them.
"""
