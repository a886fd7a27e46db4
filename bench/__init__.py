"""Benchmarks of the desk on loopback: transport, end-to-end throughput, triage, ordering."""
