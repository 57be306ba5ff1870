"""Ids look like WeChat's and repeat exactly under the same seed."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

from paydesk.sandbox.pay.ids import Ids

NOW = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)  # 2026-03-02 04:30 in Beijing


def _ids(seed: int) -> Ids:
    rng = random.Random(seed)
    return Ids(lambda n, alphabet: "".join(rng.choice(alphabet) for _ in range(n)))


def test_shapes() -> None:
    ids = _ids(1)
    assert re.fullmatch(r"wx20260302043000[0-9a-f]{20}", ids.prepay_id(NOW))
    assert re.fullmatch(r"420020260302[0-9]{16}", ids.transaction_id(NOW))
    assert re.fullmatch(r"5020260302[0-9]{19}", ids.refund_id(NOW))
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", ids.event_id()
    )
    assert re.fullmatch(r"[0-9A-Za-z]{7}", ids.code())
    assert re.fullmatch(r"[0-9]{10}", ids.h5_package())
    assert re.fullmatch(r"[0-9A-Z]{32}", ids.nonce())
    assert re.fullmatch(r"[0-9A-Za-z]{12}", ids.resource_nonce())
    assert re.fullmatch(r"[0-9A-F]{32}", ids.request_id())
    assert re.fullmatch(r"[0-9A-F]{32}-268512771", ids.request_id(268512771))
    assert re.fullmatch(r"o[0-9A-Za-z]{27}", ids.openid())
    assert re.fullmatch(r"[0-9A-Za-z]{40}", ids.token())


def test_the_same_seed_gives_the_same_ids() -> None:
    one, two, other = _ids(9), _ids(9), _ids(10)
    assert [one.event_id(), one.prepay_id(NOW)] == [two.event_id(), two.prepay_id(NOW)]
    assert one.event_id() != other.event_id()
