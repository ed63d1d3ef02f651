"""Drop-in equivalents of other libraries schedules (pure math)."""
