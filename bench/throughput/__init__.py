"""The pieces of bench/api_throughput.py: scenarios, server, load generators, CPU, report."""
