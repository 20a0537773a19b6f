"""RareHub's hub side: JupyterHub configuration, spawners and hub services.

Runs on the hub node. It never imports ``analysis_lib``: the two meet only through the
image (or environment) that single-user servers run and its ``rarehub`` command line.
"""

__version__ = "0.1.0"
