"""The approval email reaches a real SMTP server (aiosmtpd) with the version card and the approval link."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from airflow_modelreg.domain.versions import CardContext, version_card
from airflow_modelreg.notifications.email import card_html
from tests.helpers import LADDER, html_part, put_artifact, register_operator

ATTACK = "<img src=x onerror=alert(1)>"


def test_no_tag_from_a_name_a_reason_or_evidence_reaches_a_card_or_a_mail():
    """Everything a card shows comes from the registry or from people: none of it becomes HTML."""
    version = {
        "ModelPackageGroupName": "churn",
        "ModelPackageVersion": 3,
        "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3",
        "ModelApprovalStatus": "PendingManualApproval",
        "MetadataProperties": {"CommitId": f"`{ATTACK}`", "Repository": f"https://x/{ATTACK}"},
        "CustomerMetadataProperties": {
            "modelreg:registered-by": ATTACK,
            "modelreg:metric:auc": "0.9",
            "modelreg:lineage:reason": f"[click](javascript:alert(1)) {ATTACK}",
        },
    }
    context = CardContext(
        environment="prod",
        may_decide=[ATTACK],
        approvals_so_far=[{"by": "dave", "at": "now", "reason": ATTACK}],
        evidence={ATTACK: ATTACK, "note": "<script>alert(1)</script>"},
    )
    card = version_card(version, None, registry_url="javascript:alert(1)", context=context)
    html = card_html(card)
    assert "<img" not in html and "<script" not in html
    assert "<a " not in html  # neither the Markdown link in the lineage nor a javascript: registry URL
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # what was written is shown, as text
    assert "[click](javascript:alert(1))" in html


@pytest.mark.slow
def test_approval_email_carries_the_card_and_a_link_to_the_approval_page(
    airflow, aws, bucket, make_context, smtp_server, ladder_variable
):
    ladder_variable(LADDER)
    version = register_operator(put_artifact(aws, bucket), metrics={"auc": 0.91}).execute(make_context())

    def bob_approves():
        bob = airflow.approver("bob")
        return bob.approve(bob.wait_for("approve_with_email"), reason="ok")

    dag_run = airflow.run("approve_with_email", {"arn": version["arn"]}, bob_approves)
    assert str(dag_run.state) == "success"

    assert len(smtp_server.messages) == 1
    recipients, message = smtp_server.messages[0]
    assert recipients == ["bob@example.com"]
    assert message["Subject"] == "Approve churn version 1?"
    body = html_part(message)
    assert "<td>auc</td>" in body and "<td>0.91</td>" in body
    assert version["digest"] in body
    links = re.findall(r'href="([^"]+required_actions[^"]*)"', body)
    # The run id is encoded: a manual run's "+00:00" would otherwise reach the UI as " 00:00".
    assert links == [
        f"http://localhost:8080/dags/approve_with_email/runs/{quote(dag_run.run_id, safe='')}/tasks/approve/"
        "required_actions?map_index=-1"
    ]
    assert "+" not in links[0] and "%2B00%3A00" in links[0]
    # The link's page is served by the Airflow UI (the browser test clicks through it for real).
    page = airflow.rest_client.get(links[0].removeprefix("http://localhost:8080"))
    assert page.status_code == 200
    assert "<html" in page.text.lower()
