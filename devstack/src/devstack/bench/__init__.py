"""`make bench`: load the running stack, measure each stage per request, compare the router
with a raw aiokafka pass-through on the same broker, read memory from each service's /metrics.
`python -m devstack.bench --help`.
"""
