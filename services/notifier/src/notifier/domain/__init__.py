"""Notifier's pure domain: which mail an event calls for, and what it says."""
