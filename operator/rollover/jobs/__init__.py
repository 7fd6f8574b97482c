"""rollover-job: the archive, reset, certify and purge steps against the roster store, plus migrate,
seed, restore, export and check-ids.

One Job per product and step. Every step reads its inputs from the environment (or the same values as
options), exits 0 on success, 1 when the step fails or refuses, 2 on bad input, and writes a compact
JSON result to the termination log for the operator.
"""
