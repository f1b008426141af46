"""Local stand-ins for the ticket trackers (plain http on 127.0.0.1, a free port, one thread per request).

Each enforces the contract the ticket sinks rely on (shared/reference/ticket-apis.md, "A faithful fake must"):

    with GitHubFake() as github:
        tracker = GitHubTracker("octo/security", lambda: github.token, api_url=github.url)
"""
from emulator.trackers.azure_devops import AzureDevOpsFake
from emulator.trackers.base import Answer, Call, Request, TrackerFake
from emulator.trackers.github import GitHubFake
from emulator.trackers.jira import JiraFake, adf_problem
from emulator.trackers.servicenow import ServiceNowFake
from emulator.trackers.teams import TeamsWorkflowFake

__all__ = ["Answer", "AzureDevOpsFake", "Call", "GitHubFake", "JiraFake", "Request", "ServiceNowFake",
           "TeamsWorkflowFake", "TrackerFake", "adf_problem"]
