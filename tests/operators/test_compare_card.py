"""What the variant comparison request shows the people asked."""

from __future__ import annotations

from airflow_modelreg.operators.compare import render_comparison


def test_the_variant_comparison_says_who_may_answer_too():
    metrics = {"champion": {"invocations": 10, "latency_ms": 3.0, "errors_4xx": 0, "errors_5xx": 1}}
    text = render_comparison(metrics, 30, may_decide=["dave", "erin"])
    assert "**Who may decide:** dave, erin. Airflow refuses an answer from anyone else." in text
    assert "| champion | 10 | 3.0 | 0 | 1 | 10.00% |" in text
