"""A local stand-in for Slack: the Web API look-alike, and Slack's side of requests to an app.

- `SlackLookalike` (lookalike.py): a workspace's state and Web API on 127.0.0.1, for
  `slack_sdk.WebClient(base_url=lookalike.base_url)`; records calls, injects faults,
  announces changes, forwards users' actions to the app as events.
- `SignedSlackClient` (signed_requests.py): sends an app signed slash commands, events and
  button clicks over HTTP, as Slack does.
- `Redelivery` (redelivery.py): delivers again what was not acknowledged, as Slack does;
  `ServeProcess` (serve_process.py) and `FaultSite` (fault_site.py): `newsbot serve --http`
  as a process on a posted digest, for the fault tests and benchmarks/faults.py;
  `Replicator` (replica.py): Litestream beside it, for the restore-from-replica test and row.

Each module's docstring says what is faithful to Slack and what is simplified.
"""

from newsbot.sandbox.lookalike import ApiCall, EventDelivery, SlackLookalike
from newsbot.sandbox.signed_requests import AppResponse, Delivery, SignedSlackClient
from newsbot.sandbox.workspace import Change, SlackError, SlackUser

__all__ = [
    "ApiCall",
    "AppResponse",
    "Change",
    "Delivery",
    "EventDelivery",
    "SignedSlackClient",
    "SlackError",
    "SlackLookalike",
    "SlackUser",
]
