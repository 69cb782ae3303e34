"""Tell approvers by email that a version waits for them, with its card and a link to the approval page."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.bases.notifier import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context


def approval_link(context: Context, base_url: str | None = None) -> str:
    """The Airflow UI page where the approver answers the running approval task.

    Built here rather than with ``HITLOperator.generate_link_to_ui``, which leaves the run id unencoded: a
    manual run's id carries ``+00:00``, which a browser reads as a space, and the page then finds no task.
    """
    from urllib.parse import quote, urlencode

    from airflow.providers.common.compat.sdk import conf

    base = (base_url or conf.get("api", "base_url", fallback="") or "").rstrip("/")
    if not base:
        raise ValueError("No base URL for the approval link: set [api] base_url or pass base_url.")
    ti = context["task_instance"]
    path = "/".join(
        [
            "dags",
            quote(ti.dag_id, safe=""),
            "runs",
            quote(ti.run_id, safe=""),
            "tasks",
            quote(ti.task_id, safe=""),
        ]
    )
    return f"{base}/{path}/required_actions?{urlencode({'map_index': ti.map_index})}"


def card_html(markdown_text: str) -> str:
    """The card as HTML. Raw HTML in the Markdown is never passed through (the card's values are escaped
    when it is built, and this is the second fence): no tag from a reason or a repository URL reaches a mail."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown_text)


class ModelApprovalEmailNotifier(BaseNotifier):
    """Email the approvers of a :class:`RequestModelApprovalOperator` task when it starts waiting.

    The message carries the version card (metrics beside the approved version's, lineage, digest) and a
    link that opens the task's approval page in the Airflow UI. Sent through an Airflow SMTP connection.

    :param to: recipient addresses (templated); default: the addresses of the task's assigned approvers,
        from ``approver_emails`` or the ``modelreg_approver_emails`` Variable (``{"bob": "bob@..."}``).
    :param approver_emails: user id -> address, for the default recipients.
    :param fail_on_error: fail the approval task when the mail cannot be sent (default: log and go on; the
        request stays visible in the Airflow UI).
    :param smtp_conn_id: the Airflow SMTP connection.
    :param from_email: sender; defaults to the connection's ``from_email``.
    :param base_url: the Airflow UI's address for the link; defaults to ``[api] base_url``.
    """

    template_fields = ("to", "from_email", "base_url")

    def __init__(
        self,
        *,
        to: str | Sequence[str] | None = None,
        approver_emails: Mapping[str, str] | None = None,
        fail_on_error: bool = False,
        smtp_conn_id: str = "smtp_default",
        from_email: str | None = None,
        base_url: str | None = None,
    ) -> None:
        super().__init__()
        self.to = to
        self.approver_emails = approver_emails
        self.fail_on_error = fail_on_error
        self.smtp_conn_id = smtp_conn_id
        self.from_email = from_email
        self.base_url = base_url

    def message(self, context: Context) -> tuple[str, str]:
        """Subject and HTML body for the approval request in ``context``."""
        task = context["task"]
        link = approval_link(context, self.base_url)
        subject = " ".join(
            str(getattr(task, "subject", None) or "A model version waits for your approval").split()
        )
        body = card_html(getattr(task, "body", None) or "")
        content = (
            f"<p>A model version waits for your decision in Airflow.</p>{body}"
            f'<p><a href="{html.escape(link, quote=True)}">Approve or reject in Airflow</a></p>'
            f"<p style='color:#666'>Link: {html.escape(link)}</p>"
        )
        return subject, content

    def recipients(self, context: Context) -> list[str]:
        if self.to:
            return [self.to] if isinstance(self.to, str) else list(self.to)
        emails = self.approver_emails
        if emails is None:
            from airflow.sdk import Variable

            emails = Variable.get("modelreg_approver_emails", default={}, deserialize_json=True)
        assigned = getattr(context["task"], "assigned_users", None) or []
        return [emails[user["id"]] for user in assigned if user.get("id") in emails]

    def notify(self, context: Context) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        try:
            recipients: Iterable[str] = self.recipients(context)
            if not recipients:
                self.log.warning("No email address for the approvers; nobody was told by email.")
                return
            subject, content = self.message(context)
            with SmtpHook(smtp_conn_id=self.smtp_conn_id) as smtp:
                kwargs: dict[str, Any] = {"to": list(recipients), "subject": subject, "html_content": content}
                if self.from_email:
                    kwargs["from_email"] = self.from_email
                smtp.send_email_smtp(**kwargs)
        except Exception as error:
            if self.fail_on_error:
                raise
            self.log.error("Could not email the approvers (%s); the request waits in the Airflow UI.", error)
            return
        self.log.info("Told %s about: %s", ", ".join(recipients), subject)
