"""The embedded development stack."""
