"""`make faults`: fault injection on the embedded stack with real processes."""
