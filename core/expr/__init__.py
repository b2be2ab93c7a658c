"""The expression language of filters and alert conditions: one bounded kernel, two dialects.

- kernel.py: what both languages share: token scanning, numbers within bounds, the
  `and` / `or` / `not` / parentheses parser (BoolParser) with its BoolOp and Not nodes,
  `[a, b]` lists, and the limits on length and nesting. Alert conditions build on it in
  core/alerts/conditions.py.
- The filter language over Kafka records (`tail --filter`, DLQ replay, event rules):
  - model.py: FilterError, RecordLike (what a filter reads), the tree (Path, Literal,
    Compare, Present).
  - parse.py: tokens and the parser; regular expressions (RE2).
  - evaluate.py: values read from a record and compared; a tree compiled to a predicate.
  - prefilter.py: byte needles that rule records out before any decoding.
  - filter.py: the language described, `compile_filter`, `Filter`, `extract`.
"""
