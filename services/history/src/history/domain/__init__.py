"""History's pure domain: folding events into the My-activities view of one request."""
