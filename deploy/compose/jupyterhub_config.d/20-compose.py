# The containerised hub (deploy/compose/compose.yaml): loaded after the site YAML's settings.
# The proxy runs in its own container, the database in PostgreSQL's; the secrets are files
# that compose mounts under /run/secrets.
from pathlib import Path

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

SECRETS = Path("/run/secrets")

# the proxy container, not a child process of the hub
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = "http://proxy:8002"
c.ConfigurableHTTPProxy.auth_token = (SECRETS / "proxy_token").read_text().strip()

# the servers must be reachable from the proxy container (as hub:PORT; the hub API's
# address is in site.yaml: hub.api_ip / api_connect_host)
c.Spawner.ip = "0.0.0.0"

# PostgreSQL (psycopg2 is the driver in the lock file; name it: SQLAlchemy 2.1's default
# for postgresql:// is psycopg 3)
_password = (SECRETS / "db_password").read_text().strip()
c.JupyterHub.db_url = f"postgresql+psycopg2://rarehub_hub:{_password}@postgres:5432/rarehub_hub"
