"""Property-based tests of the whole HTTP API from its own OpenAPI document (schemathesis), on every engine.

For every operation, requests made from the document (positive: what it allows; negative: what it forbids) go to a
real server (uvicorn on 127.0.0.1, `salon serve`'s protocol) as a seeded admin with a bearer token; path parameters
are either generated or the ids of seeded objects (rooms, members, invites, events...), so the fuzzer reaches real
rows and not only 404s. Each string of a valid request also gets, in turn, a NUL and a lone surrogate (the document
cannot say which characters a text may hold). Every answer must: not be a 5xx; have a documented status and content
type; match the response schema; and a request the document forbids must be refused (a 4xx). The log check of
tests/api/conftest.py also fails the run on any ERROR or traceback logged meanwhile.

Bounded and reproducible: schemathesis's deterministic coverage cases (each field's edges, each rule broken in turn),
then a fixed number of random examples per operation and mode, derandomised (the same requests on every run), no
shrinking, no example database. Every operation runs even after one fails; the test reports them all.

One test per group of operations and engine, each against its own freshly seeded server, so that pytest-xdist spreads
them over its workers (as one test per engine they took 3½ minutes each). On PostgreSQL, whose part is what the store
does with what it is given, the random stage runs fewer negative examples, and a query parameter's enumeration (never
stored: ``tz``'s ~600 zones) is sampled; SQLite runs the full random count and every value of every enumeration but
``tz``, whose zones the 11 operations that take it share out, each zone sent by two or more of them
(docs/ARCHITECTURE.md, "How long make test takes").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeAlias

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from salon.app.settings import Settings
from salon.domain.api_paths import API_PREFIX
from salon.web.app import create_app
from tests.support.served import LiveApi, served

pytestmark = pytest.mark.slow

# Random examples per operation and mode: (positive, negative) on each engine. The storage errors PostgreSQL adds
# (lengths, NUL, types) are reached by the deterministic stages on both engines; its random stage is a lighter check,
# but as many positive examples: they are what reach rows in a state an operation accepts.
EXAMPLES = {"sqlite": (12, 8), "postgres": (12, 3)}
# One value in this many of a query parameter's enumeration (a coverage case each), each operation from its own
# offset: on PostgreSQL every enumeration (never stored); on SQLite only `tz`, whose ~600 zones 11 operations take
# and check the one same way (every zone is still sent, by at least two of them; the rest of the time they would
# take was ~36 % of the SQLite fuzz run). Other enumerations run every value on SQLite.
QUERY_ENUM_STRIDE = {"sqlite": 5, "postgres": 25}
SAMPLED_ON_SQLITE = frozenset({"tz"})
# Groups of operations, one test (and one seeded server) each, by the path after the API prefix: the first prefix that
# matches; anything else is "people". Sizes are balanced for pytest-xdist (the events' ~600 time zones weigh most).
GROUPS = {
    "event-actions": ("/events/{event_id}/",),
    "events": ("/events", "/calendar", "/me/calendar-feed"),
    "hallway-search": ("/hallway", "/search"),
    "rooms": ("/rooms",),
    "people": ("",),
}
# The share of a group's operations that must succeed (2xx) at least once, else the fuzzer proved little beyond its
# refusals. Most room commands need a state the seed does not give (a raised hand, a pending invitation, a muted
# speaker): 18 of their 31 succeed, on either engine.
SUCCEEDING = {"rooms": Fraction(1, 2)}
# The operations that end the caller's session(s) run with a fresh session of a member kept for that.
SESSION_ENDING = {"POST /api/v1/auth/logout", "POST /api/v1/auth/logout-all"}
# Operations that take the fuzzer out of its seeded rooms (or end them, or change their channels) run last, so the
# others reach live rooms (and the seeded booth); so do the ones that start or cancel the seeded event.
LAST = ("/languages", "/moderators", "/move-to-audience", "/remove", "/leave", "/end", "/start", "/cancel")
# Values Salon accepts for the fields whose rules the document does not state in full.
PLAUSIBLE = {
    "tz": "Europe/Paris",
    "timezone": "Europe/Paris",
    "contact": "wanda@example.org",
    "name": "Wanda",
    "q": "abcd",
    "title": "A title",
    "display_name": "Wanda",
    "description": "Some words",
    "bio": "Some words",
}
# Anything a client may be refused with (the document says "4XX"); a negative request must get one of these.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "410", "413", "415", "422", "428", "429"]

Operation: TypeAlias = schemathesis.APIOperation[Any, Any, Any, Any]
Case: TypeAlias = schemathesis.Case[Any]


@pytest.fixture
def live_api(db_url: str, tmp_path: Path) -> Iterator[LiveApi]:
    with served(db_url, tmp_path, invites_per_hour=10_000) as api:
        yield api


def _checks(case: Case, mode: GenerationMode) -> list[CheckFunction]:
    checks: list[CheckFunction] = [
        schemathesis.checks.not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    if mode is GenerationMode.NEGATIVE and not _unknown_query_parameter(case):
        checks.append(negative_data_rejection)
    return checks


def _unknown_query_parameter(case: Case) -> bool:
    """A query parameter the document does not name is ignored, as HTTP APIs do (a body's unknown field is refused:
    bodies are ``extra="forbid"``)."""
    meta = case.meta
    return (
        meta is not None
        and isinstance(meta.phase.data, CoveragePhaseData)
        and meta.phase.data.scenario is CoverageScenario.OBJECT_UNEXPECTED_PROPERTIES
        and meta.phase.data.parameter_location is ParameterLocation.QUERY
    )


def _on_seeded_objects(case: Case, api: LiveApi, pick: int) -> None:
    """Point the case's path at seeded objects (the ``pick``-th of each kind), unless the path is what the case
    breaks: a body the document forbids must be refused for a real room too, not only for a missing one."""
    names = list(case.path_parameters)
    if not names or not all(name in api.known for name in names) or _breaks_path(case):
        return
    for name in names:
        case.path_parameters[name] = api.known[name][pick % len(api.known[name])]


def _breaks_path(case: Case) -> bool:
    meta = case.meta
    if meta is None or meta.generation.mode is GenerationMode.POSITIVE:
        return False
    if meta.phase.data.parameter_location is not None:  # the one part this case breaks
        return meta.phase.data.parameter_location is ParameterLocation.PATH
    path = meta.components.get(ParameterLocation.PATH)
    return path is not None and path.mode is GenerationMode.NEGATIVE


def _call(case: Case, mode: GenerationMode, api: LiveApi, http: requests.Session) -> None:
    label = f"{case.operation.method.upper()} {case.operation.path}"
    token = api.run(api.new_token(api.leaver_id)) if label in SESSION_ENDING else api.token
    try:
        response = case.call_and_validate(
            base_url=api.base_url,
            session=http,
            headers={"Authorization": f"Bearer {token}"},
            checks=_checks(case, mode),
        )
        if 200 <= response.status_code < 300:
            api.accepted.add(label)
    except FailureGroup as failed:  # a BaseExceptionGroup, which Hypothesis would not treat as a test failure
        raise AssertionError(failed.message) from None


def _boundaries(operation: Operation, mode: GenerationMode, api: LiveApi, http: requests.Session) -> None:
    """Schemathesis's coverage phase: deterministic cases at each field's edges (lengths, bounds, formats) and, for
    negative ones, each rule broken in turn (a wrong type, a missing field, one character too many). On PostgreSQL a
    query parameter's enumeration is sampled (see the module's docstring)."""
    generation = operation.schema.config.generation_for(operation=operation, phase="coverage")
    generator = CoverageGenerator(
        operation=operation,
        generation_modes=[mode],
        generation_config=generation,
        auth_storage=None,
        override=Override(),
        feedback=FeedbackSources(),
    )
    enum_values: dict[str, int] = {}  # parameter → its values met so far
    for number, case in enumerate(generator):
        parameter = _query_enum_parameter(case)
        if parameter is not None and _sampled(api.engine, parameter):
            index = enum_values[parameter] = enum_values.get(parameter, -1) + 1
            if not _sends(api.engine, _offset(operation, parameter), index):
                continue
        _on_seeded_objects(case, api, number)
        _call(case, mode, api, http)


def _query_enum_parameter(case: Case) -> str | None:
    """The query parameter when the case is one value of its enumeration, the rest of the request as usual."""
    meta = case.meta
    if (
        meta is not None
        and isinstance(meta.phase.data, CoveragePhaseData)
        and meta.phase.data.scenario is CoverageScenario.ENUM_VALUE
        and meta.phase.data.parameter_location is ParameterLocation.QUERY
    ):
        return meta.phase.data.parameter
    return None


def _sampled(engine: str, parameter: str) -> bool:
    return engine == "postgres" or parameter in SAMPLED_ON_SQLITE


def _takers(document: dict[str, Any], parameter: str) -> list[str]:
    """The operations of the document with that query parameter, in a fixed order: their offsets."""
    return sorted(
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
        if any(p.get("in") == "query" and p.get("name") == parameter for p in spec.get("parameters", []))
    )


def _enum(document: dict[str, Any], parameter: str) -> list[Any]:
    """The values of a query parameter's enumeration (``Type | None``: an ``anyOf`` of a named enum and null)."""
    spec = next(
        p
        for methods in document["paths"].values()
        for m in methods.values()
        for p in m.get("parameters", [])
        if p.get("in") == "query" and p.get("name") == parameter
    )
    values: list[Any] = []
    for option in spec["schema"].get("anyOf", [spec["schema"]]):
        if "$ref" in option:
            option = document["components"]["schemas"][option["$ref"].rsplit("/", 1)[1]]
        values += option.get("enum", [])
    return values


def _offset(operation: Operation, parameter: str) -> int:
    return _takers(operation.schema.raw_schema, parameter).index(f"{operation.method.upper()} {operation.path}")


def _sends(engine: str, offset: int, index: int) -> bool:
    """Whether an operation sends the ``index``-th value of a sampled enumeration (the operations share it out)."""
    stride = QUERY_ENUM_STRIDE[engine]
    return index % stride == offset % stride


def _hostile_text(operation: Operation, mode: GenerationMode, api: LiveApi, http: requests.Session) -> None:
    """The document cannot say which characters a text may hold, so no generated request is sure to carry the
    ones that break things: each string of a valid request in turn gets a NUL (and, in JSON bodies, a lone
    surrogate). Whatever Salon decides about them, the answer must be a documented one, never a 5xx."""
    if mode is GenerationMode.NEGATIVE:
        return
    generation = operation.schema.config.generation_for(operation=operation, phase="coverage")
    generator = CoverageGenerator(
        operation=operation,
        generation_modes=[GenerationMode.POSITIVE],
        generation_config=generation,
        auth_storage=None,
        override=Override(),
        feedback=FeedbackSources(),
    )
    valid = next(iter(generator), None)
    if valid is None:
        return
    _on_seeded_objects(valid, api, 0)
    parts = {
        "path_parameters": valid.path_parameters,
        "query": _realistic(valid.query, api),
        "body": _realistic(valid.body, api),
    }
    for part, value in parts.items():
        if not isinstance(value, dict | list | str) or (part == "body" and valid.media_type != "application/json"):
            continue
        poisons = ["\x00", "\ud800"] if part == "body" else ["\x00"]  # a lone surrogate has no URL encoding
        for poison in poisons:
            for poisoned in _poisoned(value, poison):
                kwargs = {**parts, part: poisoned}
                case = operation.Case(media_type=valid.media_type, **kwargs)
                _call(case, GenerationMode.POSITIVE, api, http)


def _realistic(value: Any, api: LiveApi) -> Any:
    """``value`` with the fields the document leaves loose (a time zone is "a string") set to values Salon accepts,
    so that a poisoned field is what the server meets next, not a refusal of its neighbour."""
    if not isinstance(value, dict):
        return value
    starts_at = (api.services.clock.now() + timedelta(days=30)).isoformat()
    plausible = {**PLAUSIBLE, "starts_at": starts_at}
    return {key: plausible.get(key, item) if isinstance(item, str) else item for key, item in value.items()}


def _poisoned(value: Any, poison: str) -> Iterator[Any]:
    """Copies of ``value``, each with one of its strings poisoned (the character put in its middle)."""
    if isinstance(value, str):
        middle = len(value) // 2
        yield value[:middle] + poison + value[middle + 1 :]
    elif isinstance(value, dict):
        for key, item in value.items():
            for copy in _poisoned(item, poison):
                yield {**value, key: copy}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for copy in _poisoned(item, poison):
                yield [*value[:index], copy, *value[index + 1 :]]


def _fuzz(operation: Operation, mode: GenerationMode, api: LiveApi, http: requests.Session) -> None:
    """Random cases (Hypothesis), derandomised."""
    positive, negative = EXAMPLES[api.engine]
    examples = positive if mode is GenerationMode.POSITIVE else negative

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), pick=st.integers(min_value=0, max_value=3))
    def run(case: Case, pick: int) -> None:
        if pick:  # else the path parameters stay as generated: mostly objects that do not exist
            _on_seeded_objects(case, api, pick)
        _call(case, mode, api, http)

    run()


def _group(path: str) -> str:
    rest = path.removeprefix(API_PREFIX)
    return next(name for name, prefixes in GROUPS.items() if rest.startswith(prefixes))


def _order(operation: Operation) -> int:
    return next((i for i, suffix in enumerate(LAST) if operation.path.endswith(suffix)), -1)


def _negatable(operation: Operation) -> bool:
    """Whether the document forbids anything in this operation's requests (an operation without parameters or a
    body has nothing to break)."""
    return bool(operation.path_parameters or operation.query or operation.headers or operation.body)


def test_every_operation_is_in_one_group(tmp_path: Path) -> None:
    """The groups share out the document: none is empty, and the catch-all takes what the others do not."""
    document = create_app(Settings(data_dir=tmp_path, dev=True, secret_key="x" * 40)).openapi()
    groups = {_group(path) for path in document["paths"]}
    assert groups == set(GROUPS), f"groups without an operation: {set(GROUPS) - groups}"


def test_every_sampled_value_is_still_sent_by_some_operation_on_sqlite(tmp_path: Path) -> None:
    """On SQLite, the operations that take `tz` share its zones out, each zone sent by at least two of them."""
    document = create_app(Settings(data_dir=tmp_path, dev=True, secret_key="x" * 40)).openapi()
    for parameter in SAMPLED_ON_SQLITE:
        takers = _takers(document, parameter)
        values = len(_enum(document, parameter))
        assert len(takers) >= 2 * QUERY_ENUM_STRIDE["sqlite"], takers
        assert values > 500
        for index in range(values):
            senders = [t for offset, t in enumerate(takers) if _sends("sqlite", offset, index)]
            assert len(senders) >= 2, (parameter, index, senders)


@pytest.mark.parametrize("group", list(GROUPS))
def test_every_operation_holds_to_its_document(live_api: LiveApi, group: str) -> None:
    document = create_app(live_api.services.settings).openapi()
    config = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}})
    schema = schemathesis.openapi.from_dict(document, config=config)
    failures: list[str] = []
    operations = 0
    with requests.Session() as http:
        http.trust_env = False  # no proxy from the environment: the server is on loopback
        loaded = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
        mine = [operation for operation in loaded if _group(operation.path) == group]
        for operation in sorted(mine, key=_order):
            operations += 1
            modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if _negatable(operation) else [])
            for mode, stage in itertools.product(modes, (_hostile_text, _boundaries, _fuzz)):
                try:
                    stage(operation, mode, live_api, http)
                except Exception as exc:  # the first failure of this stage; the others stages still run
                    label = f"{operation.method.upper()} {operation.path} ({mode.value}, {stage.__name__[1:]})"
                    failures.append(f"--- {label} ---\n{exc}")
        me = http.get(f"{live_api.base_url}{API_PREFIX}/me", headers={"Authorization": f"Bearer {live_api.token}"})
    listed = sum(len(methods) for path, methods in document["paths"].items() if _group(path) == group)
    assert operations == listed, "every operation of the group was loaded"
    assert me.status_code == 200, "the fuzzer's session outlived the run (else later requests proved nothing)"
    succeeded = sorted(live_api.accepted)
    at_least = int(operations * SUCCEEDING.get(group, Fraction(2, 3)))  # rounded down
    assert len(succeeded) >= at_least, f"few operations ever succeeded: {succeeded}"
    assert not failures, f"{len(failures)} operation(s) broke their document:\n\n" + "\n\n".join(failures)
