"""Every table, imported in one place for Alembic and for tests."""

from openpost.accounts.models import AccountReadState, AccountSnapshot
from openpost.analytics.models import Snapshot
from openpost.auth.models import ApiKey, IdempotencyRecord
from openpost.consent.models import OAuthAttempt
from openpost.core.db import Base
from openpost.dashboard.models import DashboardSession
from openpost.integrations.models import Integration
from openpost.posts.models import Post, PostTarget
from openpost.refresh.models import DiscoveryState, PlatformState, RefreshState, SchedulerLease
from openpost.retention.models import MaintenancePermit, RetentionRun
from openpost.webhooks.models import Webhook, WebhookDelivery, WebhookEvent
from openpost.workspaces.models import Member, User, Workspace

__all__ = [
    "AccountReadState",
    "AccountSnapshot",
    "ApiKey",
    "Base",
    "DashboardSession",
    "DiscoveryState",
    "IdempotencyRecord",
    "Integration",
    "MaintenancePermit",
    "Member",
    "OAuthAttempt",
    "PlatformState",
    "Post",
    "PostTarget",
    "RefreshState",
    "RetentionRun",
    "SchedulerLease",
    "Snapshot",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
    "Workspace",
]
