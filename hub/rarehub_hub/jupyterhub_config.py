# JupyterHub configuration for RareHub: the site (YAML named by $RAREHUB_SITE_CONFIG, or the
# embedded local default described by `rarehub-hub start-local`) mapped onto traitlets in one
# place, rarehub_hub.site.configure.
#
# `c` and `load_subconfig` are provided by JupyterHub when it loads this file.
# Drop extra *.py files into <state_dir>/jupyterhub_config.d/ to override anything
# (loaded last, in name order).
from pathlib import Path

from rarehub_hub.site import configure
from rarehub_hub.start import site_from_environment

site = site_from_environment()
configure(c, site)

for extra in sorted((Path(site["state_dir"]) / "jupyterhub_config.d").glob("*.py")):
    load_subconfig(str(extra))
