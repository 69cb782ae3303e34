"""Test and demo support: the local AWS stand-in.

Nothing under ``airflow_modelreg.testing`` is imported by hooks, operators, sensors or triggers; the
product talks to whatever ``endpoint_url`` its Airflow AWS connection names, and this package is one such
endpoint. It needs the ``standin`` extra (moto's server).
"""
