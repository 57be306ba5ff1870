"""The sandbox's Identity part: people, login codes, access tokens, OAuth, customer-service
messages, message pushes and the mini program client's virtual payment — the
``api.weixin.qq.com`` and ``open.weixin.qq.com`` half of WeChat (PROTOCOL.md §4).

Every piece is small and keeps its own state; :class:`IdentityWorld` wires them together and
offers the :class:`~paydesk.sandbox.SandboxPart` interface::

    sandbox = Sandbox(SandboxCredentials.generate())
    person = sandbox.identity.persons.create()
    sandbox.identity.persons.by_unionid(person.unionid) is person   # True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from paydesk.sandbox.identity.custom import CustomerService
from paydesk.sandbox.identity.login import MiniProgramLogin
from paydesk.sandbox.identity.oauth_api import OAuthGrants
from paydesk.sandbox.identity.oauth_pages import OAuthPages
from paydesk.sandbox.identity.persons import Person, PersonBook
from paydesk.sandbox.identity.push import Pushes
from paydesk.sandbox.identity.tokens import AccessTokens, TokenEndpoints
from paydesk.sandbox.identity.xpay import VirtualPayments

if TYPE_CHECKING:
    from paydesk.sandbox import Sandbox

__all__ = ["IdentityWorld", "Person", "PersonBook"]


class IdentityWorld:
    """People and everything WeChat does for them outside payments."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        appids = [app.appid for app in sandbox.credentials.apps]
        self.persons = PersonBook(sandbox.rng, appids)
        self.tokens = AccessTokens(sandbox.rng)
        self.login = MiniProgramLogin(sandbox, self.persons)
        self.customer_service = CustomerService(sandbox, self.persons, self.tokens)
        self.oauth = OAuthGrants(sandbox, self.persons)
        self.oauth_pages = OAuthPages(sandbox, self.persons, self.oauth)
        self.pushes = Pushes(sandbox, self.persons, self.customer_service)
        self.virtual_payments = VirtualPayments(sandbox, self.login, self.pushes)
        self._token_endpoints = TokenEndpoints(sandbox, self.tokens)

    def routes(self) -> list[BaseRoute]:
        """Every route of the part."""
        return [
            *self.login.routes(),
            *self._token_endpoints.routes(),
            *self.customer_service.routes(),
            *self.oauth.routes(),
            *self.oauth_pages.routes(),
            *self.pushes.routes(),
            *self.virtual_payments.routes(),
        ]

    def reset(self) -> None:
        """Forget every person, code, token, message and push (credentials and push URLs stay)."""
        self.persons.reset()
        self.tokens.reset()
        self.login.reset()
        self.customer_service.reset()
        self.oauth.reset()
        self.oauth_pages.reset()
        self.pushes.reset()
        self.virtual_payments.reset()

    async def start(self) -> None:
        """Nothing runs in the background: expiry is checked when a code or token is used."""

    async def stop(self) -> None:
        """Nothing to stop."""
