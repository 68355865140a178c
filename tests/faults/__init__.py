"""Helpers of the fault-injection suite (tests/test_faults.py): hostile bodies, servers, processes, the report."""
