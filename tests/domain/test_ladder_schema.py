"""The published JSON Schema of the ``modelreg_ladder`` Variable and the provider's own check agree: a ladder
the provider accepts is valid under the schema, and a ladder the schema refuses is refused by the provider
with a clear error. The provider refuses a few more (rules that span fields), and says which."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_modelreg.domain.environments import LADDER_SCHEMA, EnvironmentLadder
from airflow_modelreg.domain.errors import InvalidInputError

VALIDATOR = jsonschema.Draft202012Validator(json.loads(LADDER_SCHEMA.read_text()))

# What only the provider can check, each with the words its error uses.
CROSS_FIELD_RULES = {
    "names are unique": re.compile(r"appear twice in the ladder"),
    "quorum within the distinct approvers": re.compile(r"needs \d+ distinct approvers but names only"),
    "an endpoint serves one environment": re.compile(r"is bound to both"),
}

DOCUMENTED = {
    "audit_log": "s3://modelreg-audit/log",
    "registration_approvers": ["bob"],
    "environments": [
        {"name": "dev", "approvers": ["bob"]},
        {"name": "test", "approvers": ["carol"]},
        {"name": "uat", "approvers": ["carol"]},
        {
            "name": "prod",
            "approvers": ["dave", "erin", "frank"],
            "quorum": 2,
            "endpoints": ["churn-prod"],
            "aws_conn_id": "aws_prod",
        },
    ],
}

# Anything JSON can hold, and values each field should refuse.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(["", " ", "Dev", "9x", "a" * 33, "-bad", "x" * 64, "s3://B/x", "bad name", "ldap", "2"]),
    st.lists(st.integers(0, 2), max_size=2),
    st.dictionaries(st.sampled_from(["kind", "bob", "x"]), st.integers(0, 2), max_size=2),
    st.builds(lambda: {"bob": ""}),  # a fresh dict each time: corruptions write into it
)
PEOPLE = ["bob", "carol", " dave ", "erin", "7"]
ENDPOINTS = ["churn-prod", "churn-uat", "churn-dev", "e-1"]
ENVIRONMENT_KEYS = ["name", "approvers", "quorum", "aws_conn_id", "endpoints", "stage"]
LADDER_KEYS = [
    "environments",
    "registration_approvers",
    "automated_registration_approval",
    "audit_log",
    "identities",
    "approvers",
]


@st.composite
def ladders(draw):
    """A valid ladder, then up to two fields (at any depth) replaced by junk or a near miss: most
    examples are accepted or refused for one reason, so each rule is tried on its own."""
    config: dict = {"environments": []}
    free = list(ENDPOINTS)
    for name in draw(
        st.lists(st.sampled_from(["dev", "test", "uat", "prod", "p-2"]), min_size=1, max_size=4, unique=True)
    ):
        if not draw(st.integers(0, 2)):
            config["environments"].append(name)
            continue
        env: dict = {"name": name}
        if draw(st.booleans()):
            env["approvers"] = draw(
                st.one_of(st.sampled_from(PEOPLE), st.lists(st.sampled_from(PEOPLE), max_size=4))
            )
            distinct = {
                p.strip()
                for p in ([env["approvers"]] if isinstance(env["approvers"], str) else env["approvers"])
            }
            if distinct and draw(st.booleans()):
                env["quorum"] = draw(st.sampled_from([1, len(distinct), float(len(distinct))]))
        if draw(st.booleans()):
            env["aws_conn_id"] = draw(st.sampled_from([None, "aws_prod"]))
        if free and draw(st.booleans()):
            env["endpoints"] = draw(st.sampled_from([free[-1], [free[-1]]]))
            free.pop()
        config["environments"].append(env)
    if draw(st.booleans()):
        config["registration_approvers"] = draw(
            st.one_of(st.none(), st.sampled_from(PEOPLE), st.lists(st.sampled_from(PEOPLE), max_size=2))
        )
    if draw(st.booleans()):
        config["automated_registration_approval"] = draw(st.booleans())
    if draw(st.booleans()):
        config["audit_log"] = draw(st.sampled_from([None, "s3://modelreg-audit/log"]))
    if draw(st.booleans()):
        config["identities"] = draw(
            st.sampled_from(
                [
                    None,
                    {"kind": "simple"},
                    {"kind": "fab", "conn_id": "airflow_db"},
                    {"kind": "static", "ids": {"bob": "7"}},
                ]
            )
        )
    for _ in range(draw(st.integers(0, 2))):
        _corrupt(draw, config)
    return config


def _corrupt(draw, config: dict) -> None:
    bad = draw(junk)
    environments = config.get("environments")
    where = draw(st.sampled_from(["top", "environment", "environment", "environment", "item", "identities"]))
    if where == "environment" and isinstance(environments, list) and environments:
        index = draw(st.integers(0, len(environments) - 1))
        entry = environments[index]
        if isinstance(entry, dict) and draw(st.integers(0, 3)):
            entry[draw(st.sampled_from(ENVIRONMENT_KEYS))] = bad
        else:
            environments[index] = bad
    elif where == "item" and isinstance(environments, list):
        lists = [
            value
            for entry in environments
            if isinstance(entry, dict)
            for value in (entry.get("approvers"), entry.get("endpoints"))
            if isinstance(value, list) and value
        ]
        if lists:
            chosen = draw(st.sampled_from(lists))
            chosen[draw(st.integers(0, len(chosen) - 1))] = bad
    elif where == "identities" and isinstance(config.get("identities"), dict):
        config["identities"][draw(st.sampled_from(["kind", "conn_id", "ids"]))] = bad
    else:
        config[draw(st.sampled_from(LADDER_KEYS))] = bad


def provider_error(config) -> str | None:
    try:
        EnvironmentLadder.from_config(config)
    except InvalidInputError as error:
        return str(error)
    return None


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ladders())
def test_the_schema_and_the_provider_agree_on_every_ladder(config):
    error = provider_error(config)  # an exception other than InvalidInputError fails the test: unclear
    schema_errors = [e.message for e in VALIDATOR.iter_errors(config)]
    if error is None:
        assert not schema_errors, f"the provider accepts what the schema refuses: {schema_errors}"
    elif not schema_errors:
        assert any(rule.search(error) for rule in CROSS_FIELD_RULES.values()), (
            f"the schema accepts what the provider refuses for a rule the schema could state: {error}"
        )
    # Through the Variable the ladder arrives as JSON text: the same verdict.
    assert provider_error(json.dumps(config)) == error


def test_the_documented_ladder_is_valid_and_each_cross_field_rule_is_the_providers():
    assert not list(VALIDATOR.iter_errors(DOCUMENTED)) and provider_error(DOCUMENTED) is None
    twice = {"environments": ["dev", "dev"]}
    short = {"environments": [{"name": "prod", "approvers": ["dave", " dave"], "quorum": 2}]}
    shared = {"environments": [{"name": "uat", "endpoints": "e-1"}, {"name": "prod", "endpoints": ["e-1"]}]}
    for config, rule in (
        (twice, "names are unique"),
        (short, "quorum within the distinct approvers"),
        (shared, "an endpoint serves one environment"),
    ):
        assert not list(VALIDATOR.iter_errors(config))
        assert CROSS_FIELD_RULES[rule].search(provider_error(config) or "")


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"environments": [{"name": "prod", "aws_conn_id": 7}]}, "Invalid aws_conn_id 7"),
        ({"environments": [{"name": "prod", "endpoints": {"churn-prod": 1}}]}, "Invalid endpoints"),
        ({"environments": [{"name": "prod", "approvers": 7}]}, "Invalid approvers for environment 'prod': 7"),
        ({"environments": ["dev"], "identities": {"kind": "fab", "conn_id": ""}}, "need 'conn_id'"),
        ({"environments": ["dev"], "identities": {"kind": "static", "ids": {"bob": ""}}}, "need 'ids'"),
        (
            {"environments": ["dev"], "identities": {"kind": "simple", "ids": {"bob": "7"}}},
            "Unknown key(s) ['ids'] in identities of kind 'simple'",
        ),
    ],
)
def test_a_wrongly_typed_field_gets_an_error_that_names_it(config, words):
    assert words in (provider_error(config) or "")
    assert list(VALIDATOR.iter_errors(config))


def test_json_numbers_are_numbers_a_quorum_of_2_0_is_2():
    ladder = EnvironmentLadder.from_config(
        '{"environments": [{"name": "p", "approvers": ["a", "b"], "quorum": 2.0}]}'
    )
    assert ladder.quorum_for("p") == 2 and isinstance(ladder.get("p").quorum, int)
