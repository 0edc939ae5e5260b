"""Alerts: rules judged on the live rollups, notifications to webhooks, Slack and email."""
