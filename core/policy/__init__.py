"""Topic policies: rules from config checked against what the cluster reports, and fixes."""
