"""Kafka plumbing of the running services, one concern per module:

- `records`: the framework-free record, dead-letter sink and decoding a service layer uses
- `errors`: which failures are transient (retry) and which are poison (dead-letter)
- `publishing`: events published with the ticket id as key, acknowledged (acks=all)
- `context`: per-message log context and the records of the message being handled
- `dead_letters`: the dead-letter middleware, sink and per-record isolation inside a batch
- `broker`: the broker factory and the one way a batch subscriber is declared
- `admin`: the topics and their partitions
- `dlq`: operators' listing and re-driving of dead letters (`python -m shared.kafka.dlq`)
"""
