"""Hooks of one connection share their boto3 clients within a process; anything that changes a client
(its botocore config, its region, its connection) gets a client of its own."""

from __future__ import annotations

import pytest
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config
from botocore.exceptions import ClientError

from airflow_modelreg.hooks.base import DEFAULT_RETRIES, ModelRegBaseHook
from airflow_modelreg.hooks.model_registry import ModelRegistryHook


def test_hooks_of_one_connection_share_one_client_per_service(aws):
    first, second = ModelRegistryHook(), ModelRegistryHook()
    assert first.conn is second.conn
    # A task's several hooks (the registry's S3 sibling, say) reuse the clients of the service too.
    assert first.s3_client is ModelRegBaseHook(client_type="s3").conn
    assert first.conn.list_model_package_groups()["ModelPackageGroupSummaryList"] == []


def test_an_equal_botocore_config_shares_and_a_different_one_does_not(aws):
    two_attempts = ModelRegistryHook(config=Config(retries={"mode": "standard", "max_attempts": 2}))
    same_again = ModelRegistryHook(config=Config(retries={"mode": "standard", "max_attempts": 2}))
    three_attempts = ModelRegistryHook(config=Config(retries={"mode": "standard", "max_attempts": 3}))
    assert two_attempts.conn is same_again.conn
    assert three_attempts.conn is not two_attempts.conn
    assert (
        three_attempts.conn.meta.config.retries["total_max_attempts"] == 4
    )  # botocore counts the first try too
    assert two_attempts.conn.meta.config.retries["total_max_attempts"] == 3
    # botocore rewrites a client's retries in place; the provider's default and a DAG's config stay as given.
    assert DEFAULT_RETRIES == {"mode": "standard", "max_attempts": 10}
    given = Config(retries={"mode": "standard", "max_attempts": 5})
    assert ModelRegistryHook(config=given).conn.meta.config.retries["total_max_attempts"] == 6
    assert given.retries == {"mode": "standard", "max_attempts": 5}


def test_another_region_or_connection_gets_its_own_client(aws, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_OTHER", aws.connection_json())
    default = ModelRegistryHook()
    assert ModelRegistryHook(region_name="eu-west-1").conn is not default.conn
    assert ModelRegistryHook(region_name="eu-west-1").conn.meta.region_name == "eu-west-1"
    assert ModelRegistryHook(aws_conn_id="aws_other").conn is not default.conn


def test_after_the_stand_in_forgets_issued_credentials_a_role_connection_gets_a_new_client(aws, monkeypatch):
    """moto's reset forgets the credentials STS issued; a client still holding them would land its calls
    in moto's default account. The reset drops those clients (and keeps the others)."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_PROD", aws.connection_json("222222222222"))
    ModelRegBaseHook(aws_conn_id="aws_prod", client_type="ssm").conn.put_parameter(
        Name="/before", Value="1", Type="String"
    )
    default_client = ModelRegBaseHook(client_type="ssm").conn
    aws.reset()

    ModelRegBaseHook(aws_conn_id="aws_prod", client_type="ssm").conn.put_parameter(
        Name="/after", Value="2", Type="String"
    )
    in_prod = aws.boto3_client("ssm", account_id="222222222222")
    assert in_prod.get_parameter(Name="/after")["Parameter"]["Value"] == "2"
    with pytest.raises(ClientError, match="ParameterNotFound"):
        aws.boto3_client("ssm").get_parameter(Name="/after")
    assert ModelRegBaseHook(client_type="ssm").conn is default_client


class _CallingOperator:
    """Stands where an operator's ``execute`` calls a hook."""

    def execute(self, hook):
        return hook._get_config().user_agent_extra


class BaseSensorOperator:
    """Named as the Amazon provider's lookup expects: it then names whatever called ``poke``."""

    def execute(self, sensor, hook):
        return sensor.poke(hook)


class _CallingSensor:
    def poke(self, hook):
        return hook._get_config().user_agent_extra


def _upstream_caller(hook):
    """The Amazon provider's own lookup (``AwsBaseHook._get_caller`` with its ``inspect.stack()`` walks)."""
    caller = AwsBaseHook._find_operator_class_name("execute")
    if caller == "BaseSensorOperator":
        caller = AwsBaseHook._find_operator_class_name("poke")
    return caller or AwsBaseHook._find_executor_class_name() or "Unknown"


def test_the_user_agent_names_the_calling_operator_sensor_or_executor_as_the_amazon_provider_does(aws):
    """CloudTrail shows which operator made a call through the user agent; the hook finds that name by
    walking frame objects instead of ``inspect.stack()`` (which reads every frame's source), and must
    find the same one."""
    hook = ModelRegistryHook()
    assert "Caller/_CallingOperator" in _CallingOperator().execute(hook)
    assert "Caller/_CallingSensor" in BaseSensorOperator().execute(_CallingSensor(), hook)

    class _Operator:
        def execute(self):
            return hook._get_caller(), _upstream_caller(hook)

    ours, upstream = _Operator().execute()
    assert ours == upstream == "_Operator"
    # No operator on the stack: an executor's module (one that holds BaseExecutor) names the caller.
    namespace: dict = {}
    exec(
        "from airflow.executors.base_executor import BaseExecutor\n"
        "class LocalishExecutor(BaseExecutor):\n    pass\n"
        "def build(hook, upstream):\n    return hook._get_caller(), upstream(hook)\n",
        namespace,
    )
    ours, upstream = namespace["build"](hook, _upstream_caller)
    assert ours == upstream == "LocalishExecutor"
    assert hook._get_caller() == _upstream_caller(hook) == "Unknown"
