"""Disaster recovery of a MirrorMaker 2 pair. Modules (nothing is re-exported here):

MirrorMaker 2's own records and rules (docs/mm2-formats.md):
- mm2_formats.py: the heartbeat, checkpoint and offset-sync layouts, encoded and decoded
  (pure);
- mm2_policy.py: the default and identity replication policies: remote topic names, MM2's
  internal topics (pure);
- mm2_offsets.py: offset translation as MM2 does it (`OffsetSyncStore`), the reverse rule
  for failback, when MM2 writes a sync or a checkpoint, group patterns (pure);
- mm2_io.py: reads MM2's three topics on a cluster and decodes them, malformed records
  skipped and counted.

Replication status:
- model.py: a pair's replication `Flow`, and the status records (`DrStatus` and its rows,
  `DrSignals`): frozen;
- rpo.py: replication position and lag, the RPO estimate, the verdicts and the words every
  face shows for ages and answers (pure);
- probe.py: `FlowSnapshot`, one flow read once (MM2's topics, end offsets, timestamps);
- status.py: `DrService`, the status of each pair for the faces and the alert rules.

Which cluster is active, and failover:
- control.py: `_kafkaops.control` (active cluster, fences, failover runs) on both clusters;
- signing.py: the Ed25519 signature of control records, and the keys from config;
- active.py: `ActiveClusterWatcher`, for clients that must follow the active cluster;
- plan.py: the failover plan (`FailoverPlan`: pre-checks, translated offsets per group and
  partition, fingerprint, `describe()`) and the rules that make it (pure);
- planner.py: reads the clusters into a plan;
- execute.py: starts a run and takes its steps, each recorded and audited;
- outcome.py: what a run did (`FailoverResult`);
- resume.py: finishes an interrupted run and closes the audit intents it left;
- failover.py: `FailoverService`, what the faces call: plan, execute, resume, status.
"""
