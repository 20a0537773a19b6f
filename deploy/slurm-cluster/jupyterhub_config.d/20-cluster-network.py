# Copy to <state_dir>/jupyterhub_config.d/ on the hub node (loaded after the site YAML).
#
# On a real cluster the single-user servers run on compute nodes and call the hub's API
# back (activity, the port they picked). The embedded configuration binds the hub API to
# 127.0.0.1:<port+1>, reachable only from the hub node itself; the site YAML has no key for
# this yet, so it is set here. Open <port+1> on the hub node to the compute nodes only.
c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

HUB_NODE = "hub.cluster.example.org"  # the hub node's name as the compute nodes resolve it
HUB_API_PORT = 8001  # site YAML hub.port + 1

c.JupyterHub.hub_bind_url = f"http://0.0.0.0:{HUB_API_PORT}"
c.JupyterHub.hub_connect_url = f"http://{HUB_NODE}:{HUB_API_PORT}"
