"""The intake's use cases, one module each: submission, customers' actions, agents' actions,
reading files; `activity` holds what every action on a request shares and `delivery` the
outbox every event is published from."""
