"""Exports of a run's results.json for other tools: CSV of verdicts (verdicts_csv)
and OSCAL assessment-results (oscal). JUnit comes from pytest's --junitxml."""
