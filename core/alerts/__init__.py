"""Alerts: rules, evaluation, the alerts topic, the evaluator loop and event rules."""
