# JupyterHub configuration for RareHub's embedded local default.
#
# `c` and `load_subconfig` are provided by JupyterHub when it loads this file.
# `rarehub-hub start-local` (what `./dev start` runs) sets the RAREHUB_* variables below
# and starts JupyterHub with this file. Drop extra *.py files into
# <state>/jupyterhub_config.d/ to override anything (loaded last, in name order).
from rarehub_hub.local import LocalSite, configure_local
from rarehub_hub.start import site_from_environment

site: LocalSite = site_from_environment()
configure_local(c, site)

for extra in sorted((site.state_dir / "jupyterhub_config.d").glob("*.py")):
    load_subconfig(str(extra))
