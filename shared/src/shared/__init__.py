"""Inter-service package: event contracts, topics, settings, logging and adapters' plumbing."""
