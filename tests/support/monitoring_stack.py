"""Local receivers and launchers for the monitoring tests (imported as ``monitoring_stack``).

- :class:`WebhookReceiver`: an HTTP server on 127.0.0.1 that keeps every Alertmanager
  webhook payload with its arrival time;
- :class:`SMTPSink`: a minimal SMTP server on 127.0.0.1 (EHLO, MAIL, RCPT, DATA, QUIT; no
  TLS, no auth) that keeps every message, so e-mail routing is checked without a mail
  server and without any traffic leaving the machine;
- :func:`prometheus_test_rules`: the shipped rules with every ``for:`` shortened, so an
  end-to-end test takes seconds; :func:`start_prometheus`, :func:`start_alertmanager`.
"""

from __future__ import annotations

import json
import socketserver
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml


class WebhookReceiver:
    """Alertmanager's webhook receiver: ``payloads`` is a list of ``(monotonic_s, json)``."""

    def __init__(self) -> None:
        self.payloads: list[tuple[float, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.payloads.append((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, **labels: str) -> list[tuple[float, str, dict[str, Any]]]:
        """``(arrival, status, alert)`` for every notified alert whose labels include ``labels``."""
        return [
            (t, alert["status"], alert)
            for t, payload in list(self.payloads)
            for alert in payload["alerts"]
            if all(alert["labels"].get(k) == v for k, v in labels.items())
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 rarehub-test-sink ESMTP")
        data: list[bytes] | None = None
        while line := self.rfile.readline():
            if data is not None:
                if line.rstrip(b"\r\n") == b".":
                    self.server.messages.append(b"".join(data).decode(errors="replace"))
                    data = None
                    self.reply("250 OK: queued")
                else:
                    data.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.reply("250-rarehub-test-sink")
                self.reply("250 8BITMIME")
            elif verb == b"DATA":
                data = []
                self.reply("354 End data with <CR><LF>.<CR><LF>")
            elif verb == b"QUIT":
                self.reply("221 Bye")
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                self.reply("250 OK")


class SMTPSink(socketserver.ThreadingTCPServer):
    """An SMTP server on 127.0.0.1 that keeps messages in ``messages`` (raw text)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.messages: list[str] = []
        self.address = f"127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def prometheus_test_rules(rules: Path, out: Path, *, for_: str = "1s") -> Path:
    """Copy the rules file with every ``for:`` set to ``for_`` (thresholds untouched)."""
    doc = yaml.safe_load(rules.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = for_
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def start_prometheus(
    exe: str, folder: Path, port: int, *, targets: dict[str, str], rules: Path, am_port: int
) -> subprocess.Popen:
    """Prometheus on 127.0.0.1:``port`` scraping ``targets`` (job → ``host:port/path``)
    every second, evaluating ``rules`` every second, alerting Alertmanager at ``am_port``."""
    scrape = []
    for job, target in targets.items():
        hostport, _, path = target.partition("/")
        scrape.append(
            {
                "job_name": job,
                "metrics_path": "/" + path if path else "/metrics",
                "static_configs": [{"targets": [hostport]}],
            }
        )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(rules)],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
        },
        "scrape_configs": scrape,
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    with (folder / "prometheus.log").open("ab") as log:  # the child keeps its own copy
        return _popen(
            [
                exe,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url=http://127.0.0.1:{port}/",
                "--log.level=warn",
            ],
            log,
        )


def start_alertmanager(
    exe: str, folder: Path, port: int, *, config: Path, webhook_url: str, smarthost: str
) -> subprocess.Popen:
    """Alertmanager on 127.0.0.1:``port`` with ``config`` (the shipped one), its webhooks
    pointed at ``webhook_url``, its mail at ``smarthost``, and 1-s group timings; clustering
    off (it would otherwise listen on every interface and gossip)."""
    doc = yaml.safe_load(config.read_text())
    doc["global"]["smtp_smarthost"] = smarthost
    for receiver in doc["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook_url
    route = doc["route"]
    route.update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    for sub in route.get("routes", []):
        sub["repeat_interval"] = "1h"
    (folder / "alertmanager.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    with (folder / "alertmanager.log").open("ab") as log:
        return _popen(
            [
                exe,
                f"--config.file={folder / 'alertmanager.yml'}",
                f"--storage.path={folder / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url=http://127.0.0.1:{port}/",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            log,
        )


def _popen(argv: list[str], log) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
