"""What every APIv3 payload model shares: strictness rules, money type and JSON parsing.

Models *we* build (requests) are strict and refuse unknown fields, so a typo never reaches
WeChat; models *WeChat* builds (responses, notifications) keep unknown fields
(``extra="allow"``), since WeChat adds fields without notice. Amounts are integer fen in both,
and refuse floats and numeric strings even where other fields are lenient.

>>> parse_json(ErrorBody, b'{"code":"SIGN_ERROR","message":"sign error"}').code
'SIGN_ERROR'
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from paydesk.protocol.errors import MalformedInput

__all__ = [
    "ErrorBody",
    "Fen",
    "PositiveFen",
    "Quantity",
    "RequestModel",
    "ResponseModel",
    "parse_json",
]

#: An amount in fen (1/100 CNY): an exact ``int``, never a float or a numeric string.
Fen = Annotated[StrictInt, Field(ge=0)]
#: A strictly positive amount in fen (order totals, refund amounts).
PositiveFen = Annotated[StrictInt, Field(gt=0)]
#: A count of goods: a strictly positive ``int``.
Quantity = Annotated[StrictInt, Field(gt=0)]

ModelT = TypeVar("ModelT", bound=BaseModel)


class RequestModel(BaseModel):
    """Base of the bodies we send: strict types, no unknown fields, immutable.

    :meth:`to_json` gives the exact bytes to sign and send (compact, UTF-8, nulls left out).
    """

    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True
    )

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON without ``null`` fields, field names as WeChat spells them."""
        return self.model_dump_json(exclude_none=True, by_alias=True).encode("utf-8")


class ResponseModel(BaseModel):
    """Base of the bodies WeChat sends: unknown fields are kept, not refused."""

    model_config = ConfigDict(
        extra="allow", frozen=True, validate_by_name=True, validate_by_alias=True
    )


class ErrorBody(ResponseModel):
    """WeChat's error body for any non-2xx answer (PROTOCOL.md §1.9).

    >>> ErrorBody(code="PARAM_ERROR", message="参数错误").detail is None
    True
    """

    code: str
    message: str
    detail: Any = None


def parse_json(model: type[ModelT], raw: bytes | str) -> ModelT:
    """Validate JSON bytes into ``model``; :class:`MalformedInput` names the first bad field.

    >>> parse_json(ErrorBody, b'{"code": 1}')
    Traceback (most recent call last):
    ...
    paydesk.protocol.errors.MalformedInput: ErrorBody: code: Input should be a valid string
    """
    try:
        # The validator itself: model_validate_json adds a layer of Python on the hot path.
        return model.__pydantic_validator__.validate_json(raw)  # type: ignore[no-any-return]
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise MalformedInput(f"{model.__name__}: {where}: {first['msg']}", field=where) from exc
