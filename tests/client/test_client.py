"""The WeChatClient facade: one httpx client, one sub-client per concern and account."""

from __future__ import annotations

import httpx
import pytest

from paydesk.client import (
    AppAccount,
    Endpoints,
    MerchantAccount,
    PayV2Client,
    PayV3Client,
    WeChatClient,
)
from paydesk.client.tokens import MemoryTokenStore
from tests.client.doubles import NOW, Upstream

APP = AppAccount("wx5a0d5a0d00000001", "app-secret")


def test_clients_per_merchant(account: MerchantAccount, cert_account: MerchantAccount) -> None:
    client = WeChatClient(merchants=[account, cert_account], apps=[APP])

    assert isinstance(client.pay_v3(account.mchid), PayV3Client)
    assert client.pay_v3(cert_account.mchid).account is cert_account
    assert isinstance(client.pay_v2(account.mchid), PayV2Client)
    assert client.app(APP.appid) is APP
    assert client.endpoints == Endpoints()


@pytest.mark.parametrize(
    ("lookup", "match"),
    [
        (lambda c: c.pay_v3("1900000009"), "no merchant 1900000009"),
        (lambda c: c.pay_v2("1900000002"), "APIv2 key"),  # cert_account has no v2 key
        (lambda c: c.app("wx0"), "no app wx0"),
    ],
)
def test_unknown_accounts(
    account: MerchantAccount, cert_account: MerchantAccount, lookup: object, match: str
) -> None:
    client = WeChatClient(merchants=[account, cert_account])
    with pytest.raises(KeyError, match=match):
        lookup(client)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("stable", "path"), [(True, "/cgi-bin/stable_token"), (False, "/cgi-bin/token")]
)
async def test_tokens_come_from_the_chosen_upstream(stable: bool, path: str) -> None:
    upstream = Upstream(httpx.Response(200, json={"access_token": "AT", "expires_in": 7200}))
    store = MemoryTokenStore()
    async with WeChatClient(
        apps=[APP],
        endpoints=Endpoints.sandbox("http://sandbox.test"),
        transport=httpx.MockTransport(upstream),
        clock=lambda: NOW,
        token_store=store,
        use_stable_token=stable,
    ) as client:
        assert await client.tokens.get(APP) == "AT"
        assert client.tokens.store is store
    assert [r.url.path for r in upstream.requests] == [path]
    assert client.http.is_closed
