"""Alerts: metric rules and event rules from config, their evaluation, and the alerts topic.

Records and pure rules (no I/O, the clock passed in):
- model.py: the records: MetricRule, EventRule, Route (team routing), Subject (what an
  alert is about), Observation (what was measured), stable alert ids, AlertEvent (one
  record on `_kafkaops.alerts`).
- metrics.py: what each metric of `when` means and on what subject, and how it is computed
  from lag snapshots, metadata and DR status (observations); how a value is shown.
- conditions.py: the `when` language on the expression kernel (core/expr/kernel.py): its
  tree, parser, errors, and three-valued evaluation.
- config.py: rules read from config (compile_rules, check_rules) with their errors.
- book.py: the alerts topic folded (AlertBook) and the notifier's Actions.
- evaluate.py: `for:`, flap damping and "markedly worse" (AlertTracker): evaluations
  turned into firing, changed and resolved events.

Services (I/O):
- log.py: the alerts topic (AlertLog): create, publish, follow into a book.
- notify.py: the notifier consumer group (AlertDispatcher) and the Notifier protocol.
- runner.py: the evaluator loop (AlertEvaluator): measure, evaluate, publish.
- events.py: event rules: records of a watched topic grouped into notices (EventGrouper,
  pure) and the consumer that reads them (EventWatcher).
"""
