"""The one-command demo (``make demo``) and the toy training used by the reference DAGs."""
