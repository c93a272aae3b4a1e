"""Topic names, in one place. A prefix (setting TOPIC_PREFIX) lets several stacks share a broker."""

from __future__ import annotations

from dataclasses import dataclass

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str = ""

    @property
    def submitted(self) -> str:
        return f"{self.prefix}tickets.submitted"

    @property
    def routed(self) -> str:
        return f"{self.prefix}tickets.routed"

    @property
    def activity(self) -> str:
        return f"{self.prefix}tickets.activity"

    @property
    def sla(self) -> str:
        """Time rules: SLA warnings and breaches, automations due (history's scheduler)."""
        return f"{self.prefix}tickets.sla"

    @property
    def notifications(self) -> str:
        return f"{self.prefix}notifications"

    @property
    def recovery(self) -> str:
        """Account-recovery requests (AccountRecoveryRequested): intake → notifier only."""
        return f"{self.prefix}accounts.recovery"

    def team(self, team: str) -> str:
        return f"{self.prefix}team.{team}"

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}{DLQ_SUFFIX}"

    def for_event_type(self, event_type: str) -> str:
        """The topic an event of this type is published on."""
        if event_type == "TicketSubmitted":
            return self.submitted
        if event_type == "TicketRouted":
            return self.routed
        if event_type.startswith("Notification"):
            return self.notifications
        if event_type.startswith("Sla") or event_type == "AutomationDue":
            return self.sla
        return self.activity

    def event_topics(self) -> tuple[str, ...]:
        return (self.submitted, self.routed, self.activity, self.notifications, self.sla)

    def all_topics(self, teams: tuple[str, ...]) -> tuple[str, ...]:
        consumed = (*self.event_topics(), self.recovery)
        return (*consumed, *(self.team(t) for t in teams), *(self.dlq(t) for t in consumed))
