"""Foresight: allocations with burn rates and forecasts, usage forecasts for capacity planning, and
fair share (decayed usage)."""
