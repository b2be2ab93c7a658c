"""Dead-letter topics: recognise, read, replay exactly once.

- model.py: the frozen records and header names: Origin, DeadLetter, DeadLetterTopic,
  ReasonGroup; ReplayPlan (what a replay will write where, with describe() for every face,
  Words for a face's markup) and ReplayItem; ReplayResult.
- headers.py: pure rules: which topics are dead-letter topics, a letter's origin and error
  from Spring, Kafka Connect or kafkaops headers, reasons grouped, `choose` (what a replay
  writes where), the headers of a replayed record.
- ledger.py: the replay ledger's record layout and fold, and whether a replay's owner
  process still runs (pure).
- store.py: LedgerStore, the ledger's I/O: read, create, write a batch and blocks, the
  one-replay-per-topic check, recovery of an interrupted replay.
- service.py: DeadLetterService: list_topics, letters, plan_replay -> ReplayPlan,
  apply(plan, actor=..., face=...) -> ReplayResult.
"""
