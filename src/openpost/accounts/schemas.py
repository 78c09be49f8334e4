"""Response shapes of the account endpoints (SPEC §9.4), for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

NULL_NOTE = "null when the platform does not report it (never 0 for unknown)"


class AccountCounters(BaseModel):
    followers: int | None = Field(description=NULL_NOTE)
    following: int | None = Field(description=NULL_NOTE)
    posts: int | None = Field(description=NULL_NOTE)


class AccountSnapshotOut(AccountCounters):
    id: str
    integration_id: str
    platform: str
    username: str
    platform_data: dict[str, Any] = Field(description="The platform's own counter names")
    captured_at: str = Field(examples=["2026-04-16T10:00:00Z"])


class AccountPageOut(BaseModel):
    data: list[AccountSnapshotOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class AccountDayOut(AccountCounters):
    date: str = Field(examples=["2026-04-16"], description="Local date (workspace timezone)")
    readings: int = Field(description="Account snapshots taken that day")


class AccountPeriodOut(AccountCounters):
    since: str = Field(description="Start of the period, inclusive")
    until: str = Field(description="End of the period, exclusive")
    from_reading: str | None = Field(
        description="The reading the change is counted from: the last one before the period "
        "(or the first inside it, for an account first read then)"
    )
    to_reading: str | None = Field(description="The last reading inside the period")


class AccountDetailOut(AccountCounters):
    integration_id: str
    platform: str
    username: str
    captured_at: str | None = Field(description="When the latest values were read")
    delta: AccountCounters = Field(description="Latest minus the reading before it")
    timezone: str
    growth: list[AccountDayOut] = Field(
        description="Per local day within `days`, oldest first: the day's last reading minus "
        "the last reading before the day (after a gap, the change since that reading); null "
        "on a day without a reading or without an earlier one"
    )
    period: AccountPeriodOut = Field(description="Growth over the last `days` days")
    previous_period: AccountPeriodOut = Field(description="Growth over the `days` days before that")
    snapshots: list[AccountSnapshotOut] = Field(description="Newest first, within `days`")


class AccountDetailEnvelope(BaseModel):
    data: AccountDetailOut
