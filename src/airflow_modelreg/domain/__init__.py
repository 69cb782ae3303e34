"""Domain rules of the release process, in plain Python (no Airflow, no boto3).

Hooks translate between these and AWS; operators translate between these and Airflow.
"""
