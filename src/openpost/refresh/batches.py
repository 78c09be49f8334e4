"""What a planning pass produces: the due targets it found, the plan, and the batches (one
metrics request each) that travel to the capture jobs as JSON payloads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from openpost.refresh.budgets import DailyBudget


class DueTarget(NamedTuple):
    """A target due for reading (a tuple: a pass builds tens of thousands of them)."""

    target_id: uuid.UUID
    workspace_id: uuid.UUID
    integration_id: uuid.UUID
    platform: str
    synthetic: bool
    key: str
    platform_post_id: str
    published_at: datetime
    last_success_at: datetime | None
    username: str = ""  # the integration's (a budget may charge by the kind of account)


class BatchItem(NamedTuple):
    """What a capture needs of one target, carried by the job (no read before the call)."""

    workspace_id: uuid.UUID
    target_id: uuid.UUID
    integration_id: uuid.UUID
    platform_post_id: str
    published_at: datetime


@dataclass(frozen=True, slots=True)
class Batch:
    """One metrics request's worth of targets, all read with the same credential."""

    key: str
    platform: str
    synthetic: bool
    targets: tuple[BatchItem, ...]
    claim: datetime
    probe: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "platform": self.platform,
            "synthetic": self.synthetic,
            "targets": [
                [
                    str(t.workspace_id),
                    str(t.target_id),
                    str(t.integration_id),
                    t.platform_post_id,
                    t.published_at.isoformat(),
                ]
                for t in self.targets
            ],
            "claim": self.claim.isoformat(),
            "probe": self.probe,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Batch:
        return cls(
            key=payload["key"],
            platform=payload["platform"],
            synthetic=bool(payload["synthetic"]),
            targets=tuple(
                BatchItem(
                    uuid.UUID(w), uuid.UUID(t), uuid.UUID(i), post, datetime.fromisoformat(at)
                )
                for w, t, i, post, at in payload["targets"]
            ),
            claim=datetime.fromisoformat(payload["claim"]),
            probe=bool(payload.get("probe", False)),
        )


@dataclass
class Plan:
    now: datetime
    chosen: dict[str, list[DueTarget]] = field(default_factory=dict)  # by credential key
    frozen: list[DueTarget] = field(default_factory=list)
    paused: dict[str, int] = field(default_factory=dict)  # credential key -> held back
    over_budget: dict[str, int] = field(default_factory=dict)  # platform -> left for later
    probes: set[str] = field(default_factory=set)  # credential keys sending one probe batch
    batch_sizes: dict[str, int] = field(default_factory=dict)
    budgets: dict[str, DailyBudget] = field(default_factory=dict)  # live platform -> budget

    @property
    def targets(self) -> int:
        return sum(len(v) for v in self.chosen.values())

    @property
    def spend(self) -> dict[str, int]:
        """What the chosen reads cost each live platform's daily budget, in its unit
        (X: posts not yet read today; YouTube: calls)."""
        spend: dict[str, int] = {}
        for key, targets in self.chosen.items():
            first = targets[0]
            if first.synthetic:
                continue
            budget = self.budgets[first.platform]
            billable = sum(1 for t in targets if budget.billable(t.last_success_at, self.now))
            cost = budget.cost(billable, self.batch_sizes[key], first.username)
            spend[first.platform] = spend.get(first.platform, 0) + cost
        return spend

    @property
    def credential_spend(self) -> dict[str, int]:
        """What the chosen reads cost each credential key whose platform budgets every
        credential too (LinkedIn's per-member limit), in the platform's unit."""
        spend: dict[str, int] = {}
        for key, targets in self.chosen.items():
            first = targets[0]
            if first.synthetic or not self.budgets[first.platform].per_credential:
                continue
            budget = self.budgets[first.platform]
            billable = sum(1 for t in targets if budget.billable(t.last_success_at, self.now))
            spend[key] = budget.cost(billable, self.batch_sizes[key], first.username)
        return spend

    def batches(self, claim: datetime) -> list[Batch]:
        out: list[Batch] = []
        for key, targets in self.chosen.items():
            size = self.batch_sizes[key]
            first = targets[0]
            for start in range(0, len(targets), size):
                chunk = targets[start : start + size]
                out.append(
                    Batch(
                        key=key,
                        platform=first.platform,
                        synthetic=first.synthetic,
                        targets=tuple(
                            BatchItem(
                                t.workspace_id,
                                t.target_id,
                                t.integration_id,
                                t.platform_post_id,
                                t.published_at,
                            )
                            for t in chunk
                        ),
                        claim=claim,
                        probe=key in self.probes,
                    )
                )
        return out
