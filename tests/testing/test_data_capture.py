"""InvokeEndpoint and data capture in the stand-in, as SageMaker writes captures: JSON Lines under
``{DestinationS3Uri}/{endpoint}/{variant}/yyyy/mm/dd/hh/``, one record per request (captureData with
endpointInput/endpointOutput, eventMetadata, eventVersion), payloads BASE64 unless CaptureContentTypeHeader
lists the content type as CSV or JSON."""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from tests.helpers import variant

BUCKET = "capture-bucket"
LINE = "42,0,153.7,1"


@pytest.fixture
def sm(aws, models):
    aws.boto3_client("s3").create_bucket(Bucket=BUCKET)
    return aws.boto3_client("sagemaker")


def _endpoint(aws, sm, capture=None, weights=(1.0, 0.0), name="ep"):
    config = {
        "EndpointConfigName": f"{name}-cfg",
        "ProductionVariants": [
            variant(name, model, weight)
            for name, model, weight in (("blue", "model-a", weights[0]), ("green", "model-b", weights[1]))
        ],
    }
    if capture is not False:
        config["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{BUCKET}/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            **(capture or {}),
        }
    sm.create_endpoint_config(**config)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-cfg")
    deadline = time.monotonic() + 10
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] != "InService":
        assert time.monotonic() < deadline, "the endpoint never reached InService"
        time.sleep(0.05)
    return name


def _captured(aws) -> dict[str, list[dict]]:
    """Every capture file (after a flush), by key, parsed line by line."""
    aws.flush_captures()
    s3 = aws.boto3_client("s3")
    files = {}
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="capture/").get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
        files[item["Key"]] = [json.loads(line) for line in body.splitlines()]
    return files


def test_capture_is_base64_by_default_in_the_documented_layout(aws, sm):
    _endpoint(aws, sm)
    runtime = aws.boto3_client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName="ep", Body=LINE.encode(), ContentType="text/csv", InferenceId="req-1"
    )
    assert answer["InvokedProductionVariant"] == "blue"  # green has weight 0
    output = answer["Body"].read()
    assert re.fullmatch(rb"0\.\d{6}\n", output)
    assert aws.calls()["sagemaker:InvokeEndpoint"] == 1

    files = _captured(aws)
    (key,) = files
    assert re.fullmatch(
        r"capture/ep/blue/\d{4}/\d{2}/\d{2}/\d{2}/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl", key
    )
    (record,) = files[key]
    assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
    assert record["eventVersion"] == "0"
    metadata = record["eventMetadata"]
    assert set(metadata) == {"eventId", "inferenceId", "inferenceTime"} and metadata["inferenceId"] == "req-1"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", metadata["inferenceTime"])
    assert key.split("/")[3:7] == metadata["inferenceTime"][:13].replace("-", "/").replace("T", "/").split(
        "/"
    )
    request, response = record["captureData"]["endpointInput"], record["captureData"]["endpointOutput"]
    assert request == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": base64.b64encode(LINE.encode()).decode(),
        "encoding": "BASE64",
    }
    assert response["mode"] == "OUTPUT" and response["encoding"] == "BASE64"
    assert response["observedContentType"] == "text/csv; charset=utf-8"
    assert base64.b64decode(response["data"]) == output


def test_content_types_listed_in_the_header_are_captured_as_text(aws, sm):
    _endpoint(
        aws,
        sm,
        {
            "CaptureContentTypeHeader": {
                "CsvContentTypes": ["text/csv"],
                "JsonContentTypes": ["application/json"],
            }
        },
    )
    runtime = aws.boto3_client("sagemaker-runtime")
    runtime.invoke_endpoint(EndpointName="ep", Body=LINE.encode(), ContentType="text/csv")
    runtime.invoke_endpoint(EndpointName="ep", Body=b'{"age": 42}', ContentType="application/json")
    runtime.invoke_endpoint(EndpointName="ep", Body=b"\x00\x01", ContentType="application/x-npy")
    (records,) = _captured(aws).values()
    by_type = {r["captureData"]["endpointInput"]["observedContentType"]: r["captureData"] for r in records}
    assert by_type["text/csv"]["endpointInput"]["data"] == LINE
    assert by_type["text/csv"]["endpointInput"]["encoding"] == "CSV"
    # The response's "text/csv; charset=utf-8" is the listed media type with a parameter: still CSV.
    assert by_type["text/csv"]["endpointOutput"]["encoding"] == "CSV"
    assert by_type["application/json"]["endpointInput"] == {
        "observedContentType": "application/json",
        "mode": "INPUT",
        "data": '{"age": 42}',
        "encoding": "JSON",
    }
    assert by_type["application/x-npy"]["endpointInput"]["encoding"] == "BASE64"


def test_capture_options_and_sampling_are_honoured(aws, sm):
    _endpoint(aws, sm, {"CaptureOptions": [{"CaptureMode": "Input"}]}, name="inputs")
    _endpoint(aws, sm, {"InitialSamplingPercentage": 0}, name="none")
    _endpoint(aws, sm, False, name="off")
    for name in ("inputs", "none", "off"):
        aws.invoke_endpoint_many(name, [LINE] * 5)
    files = _captured(aws)
    assert {key.split("/")[1] for key in files} == {"inputs"}
    records = [record for lines in files.values() for record in lines]
    assert len(records) == 5
    assert all(set(record["captureData"]) == {"endpointInput"} for record in records)


def test_many_invocations_in_one_call_follow_the_weights(aws, sm):
    _endpoint(aws, sm, weights=(0.75, 0.25))
    served = aws.invoke_endpoint_many("ep", [f"{i},1,2" for i in range(400)])
    assert served["invocations"] == 400
    assert 240 <= served["variants"]["blue"] <= 360  # 75% of 400, give or take
    assert served["variants"]["blue"] + served["variants"]["green"] == 400
    files = _captured(aws)
    by_variant = {
        variant: sum(len(lines) for key, lines in files.items() if f"/{variant}/" in key)
        for variant in ("blue", "green")
    }
    assert by_variant == served["variants"]
    only_green = aws.invoke_endpoint_many("ep", [LINE], target_variant="green")
    assert only_green["variants"] == {"green": 1}


def test_captures_appear_a_short_time_after_the_requests(aws, sm):
    _endpoint(aws, sm)
    s3 = aws.boto3_client("s3")
    before = aws.settings()["capture_flush_seconds"]
    try:
        aws.settings(capture_flush_seconds=3600)
        aws.invoke_endpoint_many("ep", [LINE])
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix="capture/").get("KeyCount") == 0  # not yet
        assert aws.flush_captures() == 1
        aws.settings(capture_flush_seconds=0.2)
        aws.invoke_endpoint_many("ep", [LINE])
        deadline = time.monotonic() + 30
        while s3.list_objects_v2(Bucket=BUCKET, Prefix="capture/").get("KeyCount") < 2:
            assert time.monotonic() < deadline, "the capture file was never written"
            time.sleep(0.1)
    finally:
        aws.settings(capture_flush_seconds=before)


def test_invoking_what_does_not_serve_is_refused(aws, sm):
    runtime = aws.boto3_client("sagemaker-runtime")
    with pytest.raises(ClientError) as excinfo:
        runtime.invoke_endpoint(EndpointName="nope", Body=b"1", ContentType="text/csv")
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"
    assert excinfo.value.response["Error"]["Message"] == "Endpoint nope of account 123456789012 not found."
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant("v", "model-a")])
    sm.create_endpoint(EndpointName="new", EndpointConfigName="c")
    with pytest.raises(ClientError, match="Endpoint new of account 123456789012 not found"):
        runtime.invoke_endpoint(EndpointName="new", Body=b"1", ContentType="text/csv")  # still Creating
