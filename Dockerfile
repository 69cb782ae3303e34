# Airflow 3.3 with this provider installed from the repository (the docker-compose stack builds it).
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root pyproject.toml README.md /opt/modelreg/
COPY --chown=airflow:root src /opt/modelreg/src
# The standin extra brings moto's server, for the local AWS stand-in service; a deployment against real
# AWS can drop it.
RUN pip install --no-cache-dir "/opt/modelreg[standin]" "apache-airflow==3.3.2"
