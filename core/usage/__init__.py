"""Usage and chargeback: what each topic and team produces and stores, and what it costs."""
