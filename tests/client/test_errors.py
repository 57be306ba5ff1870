"""The client's error tree: what each error carries and how it prints."""

from __future__ import annotations

import pytest

from paydesk.client import errors


def test_str_names_the_request_and_code() -> None:
    err = errors.NotFound(
        "订单不存在", status=404, code="ORDER_NOT_EXIST", request_id="R-268512771"
    )
    assert str(err) == "Request R-268512771: [ORDER_NOT_EXIST] 订单不存在"
    assert repr(err) == (
        "NotFound(message='订单不存在', status=404, code='ORDER_NOT_EXIST', "
        "request_id='R-268512771')"
    )


def test_str_without_request_id_or_code() -> None:
    assert str(errors.OutcomeUnknown("no answer")) == "no answer"
    assert str(errors.InvalidRequest("bad", code="PARAM_ERROR")) == "[PARAM_ERROR] bad"


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (errors.TransportFailed, True),
        (errors.UpstreamUnavailable, True),
        (errors.RateLimited, True),
        (errors.OutcomeUnknown, False),
        (errors.UnexpectedResponse, False),
        (errors.ResponseNotVerified, False),
        (errors.InvalidRequest, False),
        (errors.Refused, False),
        (errors.AuthenticationFailed, False),
        (errors.NotFound, False),
    ],
)
def test_default_retryable(cls: type[errors.WeChatError], retryable: bool) -> None:
    assert cls("x").retryable is retryable
    assert cls("x", retryable=not retryable).retryable is (not retryable)


def test_api_error_codes_are_the_errcode_as_text() -> None:
    err = errors.AccessTokenRejected("expired", errcode=42001, status=200)
    assert (err.errcode, err.code, err.status) == (42001, "42001", 200)
    assert isinstance(err, errors.ApiError)
    assert str(err) == "[42001] expired"


def test_the_tree() -> None:
    """The families the caller branches on do not overlap."""
    api = (errors.InvalidRequest, errors.NotFound, errors.ApiError, errors.UpstreamUnavailable)
    assert all(issubclass(cls, errors.WeChatApiError) for cls in api)
    assert issubclass(errors.Refused, errors.InvalidRequest)
    assert issubclass(errors.LoginError, errors.ApiError)
    assert issubclass(errors.UnexpectedResponse, errors.OutcomeUnknown)
    for cls in (errors.OutcomeUnknown, errors.TransportFailed, errors.ResponseNotVerified):
        assert issubclass(cls, errors.WeChatError)
        assert not issubclass(cls, errors.WeChatApiError)
    assert not issubclass(errors.TransportFailed, errors.OutcomeUnknown)
