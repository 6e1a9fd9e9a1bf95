"""Benchmarks, fault drills and their reports (`make bench`, `make drill`, `make fuzz`)."""
