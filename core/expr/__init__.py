"""The expression language of filters and alert conditions: one bounded kernel, two dialects."""
