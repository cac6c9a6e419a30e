"""The promptdsl benchmark suite (see docs/benchmarks.md): `python -m benchmarks.run`."""
