"""The speed bench of issue 5: GDL against NumPy, PyTorch and JAX on the same workloads.

`python bench/run.py --help` runs it; `workloads` holds what is timed and how
each peer computes it, `timing` how it is timed and the machine's limits.
It is a package so that tests/test_bench.py can drive the same functions.
"""
