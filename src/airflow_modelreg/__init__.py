"""airflow-modelreg: the Amazon SageMaker Model Registry as a governed release process, for Apache Airflow."""

__version__ = "0.1.0"
