"""Verdict: what judging one control on one target says, with its evidence."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

PASS, FAIL, NOT_APPLICABLE, ERROR, WAIVED, MANUAL = (
    "pass", "fail", "not_applicable", "error", "waived", "manual")

EXCERPT_MAX = 2000


@dataclass
class Evidence:
    source: str          # the command run or the path read
    sha256: str          # hash of the whole stored artifact
    excerpt: str = ""    # the lines that decided, not the whole file
    collected_at: str = ""

    @classmethod
    def of(cls, artifact, excerpt: str | None = None) -> "Evidence":
        text = artifact.stdout if excerpt is None else excerpt
        if len(text) > EXCERPT_MAX:
            text = text[:EXCERPT_MAX] + "\n[... truncated; sha256 covers the whole artifact]"
        return cls(artifact.source, artifact.sha256, text, artifact.collected_at)


@dataclass
class Verdict:
    status: str
    expected: str | None = None
    actual: str | None = None
    reason: str | None = None
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def passed(expected, actual, evidence=(), reason=None) -> Verdict:
    return Verdict(PASS, str(expected), str(actual), reason, list(evidence))


def failed(expected, actual, evidence=(), reason=None) -> Verdict:
    return Verdict(FAIL, str(expected), str(actual), reason, list(evidence))


def manual(expected, actual, evidence=(), reason=None) -> Verdict:
    """What only a person can decide from this evidence (never counted as a pass)."""
    return Verdict(MANUAL, str(expected), str(actual), reason, list(evidence))


def not_applicable(reason, evidence=()) -> Verdict:
    return Verdict(NOT_APPLICABLE, reason=reason, evidence=list(evidence))


def error(reason, evidence=()) -> Verdict:
    return Verdict(ERROR, reason=reason, evidence=list(evidence))
