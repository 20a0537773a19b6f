"""Panel apps: event browser, data-quality monitor, storage monitor.

Each app module has ``create_app(catalog_path, ...)`` returning a Panel layout (one per
browser session) and is servable as a script::

    panel serve analysis_lib/apps/event_browser.py --address 127.0.0.1 --port 5006 \\
        --allow-websocket-origin=127.0.0.1:5006 --args --catalog demo-data/catalog.sqlite

or, with the storage monitor's Prometheus ``/metrics`` route, through the command line::

    rarehub monitor storage --catalog demo-data/catalog.sqlite --port 5006
"""
