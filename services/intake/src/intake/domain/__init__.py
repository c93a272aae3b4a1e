"""Intake's pure domain: what a valid request is and which event it becomes."""
