"""The whole HTTP API, fuzzed from its own OpenAPI document (schemathesis).

Every operation gets :data:`POSITIVE_EXAMPLES` generated requests that fit its schema and, where
its schema constrains anything, :data:`NEGATIVE_EXAMPLES` that break it. They go in-process to a
fresh stack (the API and its sandbox) with real credentials — the merchant's API key, a
logged-in user's session token, or none — and, for ``{order_id}``, ``{mchid}`` and ``{appid}``,
often a real order, merchant or app, so requests get past the lookup into the handlers.

Each answer must be no 5xx, a status the document declares, a declared content type and a body
that matches the declared schema; a request that breaks the schema must be refused with a 4xx.
Generation is derandomized, so every CI run sends the same requests.

Hypothesis runs in a worker thread (it is synchronous); each request is sent on the test's event
loop, where the stack's database engine, cache and sandbox live.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error

# Imported here, at collection, rather than lazily by ``from_dict`` inside the test: pytest
# rewrites schemathesis' modules (it is a plugin) with ``ast.parse``, and CPython 3.11's AST
# constructor keeps its recursion depth in interpreter-wide state that another thread's parse
# can corrupt ("SystemError: AST constructor recursion depth mismatch", CPython gh-106905;
# seen once on a loaded machine).
from schemathesis.specs.openapi import schemas as _openapi_schemas  # noqa: F401
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.domain.users.support import log_in
from tests.stack import (
    CERTIFICATE_MCHID,
    MINI_APPID,
    OA_APPID,
    PAYDESK_URL,
    PUBLIC_KEY_MCHID,
    Stack,
)

POSITIVE_EXAMPLES = 50
NEGATIVE_EXAMPLES = 25
CONFORMANCE: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CHECKS = {
    GenerationMode.POSITIVE: CONFORMANCE,
    GenerationMode.NEGATIVE: [*CONFORMANCE, negative_data_rejection],
}
EXAMPLES = {
    GenerationMode.POSITIVE: POSITIVE_EXAMPLES,
    GenerationMode.NEGATIVE: NEGATIVE_EXAMPLES,
}
#: Unknown query parameters are ignored, as HTTP APIs conventionally do (bodies refuse unknown
#: fields: every request model is ``extra="forbid"``, tested route by route). A request that
#: breaks the schema may also be refused for its size: 413, 414 (a path parameter far over its
#: ``maxLength``) or 431.
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"allow-extra-parameters": False},
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 409, 413, 414, 415, 422, 429, 431]
            }
        },
    }
)

Send = Callable[[dict[str, Any]], httpx.Response]


@dataclass
class Fuzzing:
    """What to send with, and what came back."""

    send: Send
    identities: Sequence[str | None]
    real_path_values: Mapping[str, Sequence[str]]
    failures: dict[str, str] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    nothing_to_break: list[str] = field(default_factory=list)


def httpx_arguments(case: schemathesis.Case[Any], credentials: str | None) -> dict[str, Any]:
    """``case`` as keyword arguments of ``httpx.AsyncClient.request``, with ``credentials``
    (when given) as the bearer token instead of whatever was generated."""
    prepared = case.as_transport_kwargs(base_url=PAYDESK_URL)
    headers = dict(prepared.get("headers") or {})
    if credentials is not None:
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {credentials}"
    arguments: dict[str, Any] = {
        "method": prepared["method"],
        "url": prepared["url"],
        "headers": headers,
        "params": prepared.get("params"),
    }
    if "json" in prepared:
        arguments["json"] = prepared["json"]
    data = prepared.get("data")
    if isinstance(data, bytes | str):
        arguments["content"] = data
    elif data is not None:
        arguments["data"] = data
    return arguments


def fuzz_operation(operation: Any, mode: GenerationMode, fuzzing: Fuzzing) -> None:
    """Send ``operation``'s generated requests; record its failure, if any."""
    real_values = {
        name: st.none() | st.sampled_from(values)
        for name, values in fuzzing.real_path_values.items()
        if name in operation.path_parameters and mode is GenerationMode.POSITIVE
    }

    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        credentials=st.sampled_from(fuzzing.identities),
        path_values=st.fixed_dictionaries(real_values),
    )
    def run(
        case: schemathesis.Case[Any], credentials: str | None, path_values: dict[str, Any]
    ) -> None:
        case.path_parameters = {
            **(case.path_parameters or {}),
            **{name: value for name, value in path_values.items() if value is not None},
        }
        response = fuzzing.send(httpx_arguments(case, credentials))
        fuzzing.sent[operation.label] = fuzzing.sent.get(operation.label, 0) + 1
        case.validate_response(response, checks=CHECKS[mode])

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # Nothing in this operation's schema can be broken (e.g. only an unconstrained string).
        fuzzing.nothing_to_break.append(operation.label)
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis reports with a FailureGroup
        fuzzing.failures[f"{operation.label} ({mode.value})"] = str(exc)


def fuzz_every_operation(schema: Any, fuzzing: Fuzzing) -> list[Any]:
    """Both modes for every operation of ``schema``; returns the operations."""
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(operation, mode, fuzzing)
    return operations


def takes_input(operation: Any) -> bool:
    """Whether an operation has anything to generate (``GET /healthz`` has one request)."""
    definition = operation.definition.raw
    return bool(definition.get("parameters") or definition.get("requestBody"))


async def test_no_generated_request_gets_a_5xx_or_an_undocumented_answer(stack: Stack) -> None:
    user = await log_in(stack)
    orders = [await stack.create_order(amount=100 + n) for n in range(3)]
    schema = schemathesis.openapi.from_dict(stack.app.openapi(), config=CONFIG)
    loop = asyncio.get_running_loop()

    def send(arguments: dict[str, Any]) -> httpx.Response:
        request = stack.api.request(**arguments)
        return asyncio.run_coroutine_threadsafe(request, loop).result(timeout=30)

    fuzzing = Fuzzing(
        send=send,
        identities=[stack.api_key, user.token, None],
        real_path_values={
            "order_id": [order["id"] for order in orders],
            "mchid": [PUBLIC_KEY_MCHID, CERTIFICATE_MCHID],
            "appid": [MINI_APPID, OA_APPID],
        },
    )
    operations = await asyncio.to_thread(fuzz_every_operation, schema, fuzzing)
    await stack.app.state.in_flight.finish(grace_seconds=30)

    assert not fuzzing.failures, "\n\n".join(
        f"== {label}\n{problem}" for label, problem in fuzzing.failures.items()
    )
    assert len(operations) >= 15, "the document lost operations"
    too_few = {
        operation.label: fuzzing.sent.get(operation.label, 0)
        for operation in operations
        if takes_input(operation) and fuzzing.sent.get(operation.label, 0) < POSITIVE_EXAMPLES
    }
    assert not too_few, f"operations that got fewer than {POSITIVE_EXAMPLES} requests: {too_few}"


async def test_the_document_declares_errors_in_the_api_shape(stack: Stack) -> None:
    """What the fuzzing relies on: FastAPI's 422 is gone, our 400 (and the rest) declared."""
    document = stack.app.openapi()
    create = document["paths"]["/api/v1/orders"]["post"]["responses"]
    assert "422" not in create
    assert set(create) >= {"201", "400", "401", "404", "409", "413"}
    assert create["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert set(document["paths"]["/healthz"]["get"]["responses"]) == {"200", "414", "431"}
