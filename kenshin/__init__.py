"""The MHLW standard electronic format for 特定健診・特定保健指導 data.

Plain Python (no Django models): importable by every app, the tests and the benchmarks.
"""
