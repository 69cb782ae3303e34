"""Declarative waiter models (botocore's waiter format), read by the hooks through the Amazon provider's
``get_waiter``: which states mean done, in progress or failed is one reviewed table per resource."""
