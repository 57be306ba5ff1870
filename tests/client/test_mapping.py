"""WeChat's three error families → the client's tree, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from paydesk.client import errors
from paydesk.client._mapping import (
    errcode_error,
    request_id_of,
    status_error_class,
    v2_error,
    v3_error,
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, errors.InvalidRequest),
        (401, errors.AuthenticationFailed),
        (403, errors.Refused),
        (404, errors.NotFound),
        (409, errors.InvalidRequest),
        (413, errors.InvalidRequest),
        (429, errors.RateLimited),
        (500, errors.UpstreamUnavailable),
        (503, errors.UpstreamUnavailable),
    ],
)
def test_status_classes(status: int, expected: type[errors.WeChatApiError]) -> None:
    assert status_error_class(status) is expected


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "message", "retryable"),
    [
        (
            400,
            b'{"code":"PARAM_ERROR","message":"bad"}',
            errors.InvalidRequest,
            "PARAM_ERROR",
            "bad",
            False,
        ),
        (
            500,
            b'{"code":"SYSTEM_ERROR","message":"busy"}',
            errors.UpstreamUnavailable,
            "SYSTEM_ERROR",
            "busy",
            True,
        ),
        (
            500,
            b'{"code":"BANK_ERROR","message":"bank"}',
            errors.UpstreamUnavailable,
            "BANK_ERROR",
            "bank",
            True,
        ),
        # The JSAPI table lists these at 500, but they are the caller's mistake.
        (
            500,
            b'{"code":"INVALID_TRANSACTIONID","message":"x"}',
            errors.InvalidRequest,
            "INVALID_TRANSACTIONID",
            "x",
            False,
        ),
        (
            500,
            b'{"code":"OPENID_MISMATCH","message":"x"}',
            errors.InvalidRequest,
            "OPENID_MISMATCH",
            "x",
            False,
        ),
        (
            400,
            b'{"code":"ORDER_CLOSED","message":"closed"}',
            errors.Refused,
            "ORDER_CLOSED",
            "closed",
            False,
        ),
        (
            400,
            b'{"code":"ORDER_PAID","message":"paid"}',
            errors.Refused,
            "ORDER_PAID",
            "paid",
            False,
        ),
        # Not WeChat's shape (a gateway page): still mapped by status, the text kept.
        (
            502,
            b"<html>Bad Gateway</html>",
            errors.UpstreamUnavailable,
            "HTTP_502",
            "<html>Bad Gateway</html>",
            True,
        ),
        (404, b"[1, 2]", errors.NotFound, "HTTP_404", "[1, 2]", False),
        (
            401,
            b'{"code":"","message":7}',
            errors.AuthenticationFailed,
            "HTTP_401",
            '{"code":"","message":7}',
            False,
        ),
    ],
)
def test_v3_errors(
    status: int,
    body: bytes,
    cls: type[errors.WeChatApiError],
    code: str,
    message: str,
    retryable: bool,
) -> None:
    err = v3_error(status, body, "REQ1")
    assert type(err) is cls
    assert (err.status, err.code, err.message, err.retryable) == (status, code, message, retryable)
    assert (err.request_id, err.body) == ("REQ1", body)


def test_v3_error_keeps_the_detail() -> None:
    body = b'{"code":"PARAM_ERROR","message":"m","detail":{"field":"/amount/total"}}'
    assert v3_error(400, body, None).detail == {"field": "/amount/total"}


@pytest.mark.parametrize(
    ("fields", "cls", "code", "message"),
    [
        (
            {"return_code": "FAIL", "return_msg": "签名错误"},
            errors.AuthenticationFailed,
            "SIGNERROR",
            "签名错误",
        ),
        (
            {"return_code": "FAIL", "return_msg": "invalid sign"},
            errors.AuthenticationFailed,
            "SIGNERROR",
            "invalid sign",
        ),
        (
            {"return_code": "FAIL", "return_msg": "XML格式错误"},
            errors.InvalidRequest,
            "FAIL",
            "XML格式错误",
        ),
        ({"return_code": "FAIL"}, errors.InvalidRequest, "FAIL", "return_code FAIL"),
        (
            {
                "return_code": "SUCCESS",
                "result_code": "FAIL",
                "err_code": "SYSTEMERROR",
                "err_code_des": "系统错误",
            },
            errors.UpstreamUnavailable,
            "SYSTEMERROR",
            "系统错误",
        ),
        (
            {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": "BIZERR_NEED_RETRY"},
            errors.UpstreamUnavailable,
            "BIZERR_NEED_RETRY",
            "BIZERR_NEED_RETRY",
        ),
        (
            {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": "ORDERNOTEXIST"},
            errors.NotFound,
            "ORDERNOTEXIST",
            "ORDERNOTEXIST",
        ),
        (
            {
                "return_code": "SUCCESS",
                "result_code": "FAIL",
                "err_code": "ORDERPAID",
                "result_msg": "已支付",
            },
            errors.Refused,
            "ORDERPAID",
            "已支付",
        ),
        (
            {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": "FREQUENCY_LIMITED"},
            errors.RateLimited,
            "FREQUENCY_LIMITED",
            "FREQUENCY_LIMITED",
        ),
        (
            {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": "SIGNERROR"},
            errors.AuthenticationFailed,
            "SIGNERROR",
            "SIGNERROR",
        ),
        (
            {"return_code": "SUCCESS", "result_code": "FAIL", "err_code": "LACK_PARAMS"},
            errors.InvalidRequest,
            "LACK_PARAMS",
            "LACK_PARAMS",
        ),
        ({"return_code": "SUCCESS", "result_code": "FAIL"}, errors.InvalidRequest, "FAIL", "FAIL"),
    ],
)
def test_v2_errors(
    fields: dict[str, str], cls: type[errors.WeChatApiError], code: str, message: str
) -> None:
    err = v2_error(fields, 200, b"<xml/>")
    assert type(err) is cls
    assert (err.code, err.message, err.status, err.body) == (code, message, 200, b"<xml/>")


@pytest.mark.parametrize(
    ("payload", "cls", "retryable", "request_id"),
    [
        (
            {"errcode": 40029, "errmsg": "invalid code, rid: 6489a0b0-1e2b3c4d-5f6a7b8c"},
            errors.LoginError,
            False,
            "6489a0b0-1e2b3c4d-5f6a7b8c",
        ),
        ({"errcode": 40163, "errmsg": "code been used"}, errors.LoginError, False, None),
        ({"errcode": 42003, "errmsg": "code expired"}, errors.LoginError, False, None),
        (
            {"errcode": 40001, "errmsg": "invalid credential"},
            errors.AccessTokenRejected,
            False,
            None,
        ),
        (
            {"errcode": 42001, "errmsg": "access_token expired"},
            errors.AccessTokenRejected,
            False,
            None,
        ),
        ({"errcode": -1, "errmsg": "system error"}, errors.ApiError, True, None),
        ({"errcode": 45011, "errmsg": "api minute-quota reach limit"}, errors.ApiError, True, None),
        ({"errcode": 45015}, errors.ApiError, False, None),
    ],
)
def test_errcode_errors(
    payload: dict[str, Any], cls: type[errors.ApiError], retryable: bool, request_id: str | None
) -> None:
    err = errcode_error(payload, 200, b"{}")
    assert type(err) is cls
    assert err.errcode == payload["errcode"]
    assert err.code == str(payload["errcode"])
    assert err.message == payload.get("errmsg", f"errcode {payload['errcode']}")
    assert (err.retryable, err.request_id, err.status) == (retryable, request_id, 200)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Request-ID": "A"}, "A"), ({"request-id": "B"}, "B"), ({"X-Other": "C"}, None)],
)
def test_request_id_of(headers: dict[str, str], expected: str | None) -> None:
    assert request_id_of(headers) == expected
