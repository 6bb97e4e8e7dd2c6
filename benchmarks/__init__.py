"""`lmc bench`: workloads that prove the speed and memory targets, written as JSON and a table."""
