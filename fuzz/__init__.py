"""Coverage-guided fuzzing of the parsers that read seized or imported bytes.

``make fuzz`` (or ``python -m fuzz.run``) generates seeds (:mod:`fuzz.seeds`), then runs each
target of :mod:`fuzz.harness` under atheris (libFuzzer) for a bounded time and reports the
executions and the crashes it found. Everything it writes stays in ``fuzz/work/``.
"""
