"""Synthetic submission archives for tests, benchmarks and demonstrations.

`generate` / `write_archives` build realistic archives (fake half-width kana names, valid check
digits, results correlated with sex and age, claims computed from the contract terms) and inject
the named defects of `defects.DEFECTS` on request. Nothing here describes a real person.
"""
