"""``server_ip``: what the job's server binds (``auto``, wildcard, explicit).

The cross-host case (``auto`` on a node → the node's cluster address) runs on the real
three-host cluster in tests/integration/cluster/; here only loopback is used.
"""

from __future__ import annotations

import pytest

from rarehub_hub.singleuser import resolve_ip, route_address


def test_auto_is_the_address_towards_the_hub_loopback_on_one_machine():
    assert resolve_ip("auto", "http://127.0.0.1:8081/hub/api") == "127.0.0.1"


@pytest.mark.parametrize("ip", ["0.0.0.0", "127.0.0.1", "10.77.0.11"])
def test_explicit_and_wildcard_addresses_are_kept(ip):
    assert resolve_ip(ip, "http://127.0.0.1:8081/hub/api") == ip


def test_wildcard_routes_to_the_node_name_an_address_to_itself():
    assert route_address("0.0.0.0") == ""
    assert route_address("10.77.0.11") == "10.77.0.11"


def test_auto_without_a_hub_host_names_the_url():
    with pytest.raises(SystemExit, match=r"--ip auto: no hub host in '/hub/api'"):
        resolve_ip("auto", "/hub/api")
