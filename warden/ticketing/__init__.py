"""Ticket trackers (GitHub, Azure DevOps, ServiceNow, Jira; Teams through warden.tickets.WebhookTicketSink), the
durable sink with its outbox on Table Storage, and the rendering that keeps untrusted text inert.

Nothing here is imported by function_app at cold start; warden.ticketing.factory builds the sink from settings.
"""
