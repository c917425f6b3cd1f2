"""Alerts: rules with thresholds, evaluated on a schedule over the warehouse, each condition fired
once until it no longer holds, delivered to the people whose grants cover it."""
