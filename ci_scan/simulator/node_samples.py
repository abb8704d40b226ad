"""The default dataset's hosts and containers: one per behaviour a CI gate that scans nodes has to cope with."""

from __future__ import annotations

from .data import Image
from .nodes import DAY_MS, Container, Host

LATE_HOST = "new-node-7"
LATE_AFTER_MS = 30_000
"""`new-node-7` registers this long (console time) after the simulator starts."""


def default_hosts() -> list[Host]:
    return [
        # A CI build agent: a critical, a few others, an AWS key left in a workspace, one malware hit.
        Host(
            "build-agent-1",
            {"critical": 1, "high": 2, "medium": 3, "low": 2},
            secrets={"high": 1, "low": 1},
            malware={"medium": 1},
            registered_at_ms=-7 * DAY_MS,
            private_ip="10.0.1.15",
        ),
        # Clean, and runs both containers.
        Host("web-prod-1", registered_at_ms=-5 * DAY_MS, instance_type="c5.large", private_ip="10.0.2.21"),
        # On-premises; its agent stopped: a scan start for it is skipped without a word (no scan id).
        Host(
            "legacy-box",
            {"high": 5, "medium": 8},
            agent_running=False,
            registered_at_ms=-90 * DAY_MS,
            cloud_provider="private_cloud",
            cloud_region="Zone",
            private_ip="192.168.10.5",
            os="linux",
            kernel_version="4.15.0-213-generic #224-Ubuntu SMP Mon Jun 19 13:30:12 UTC 2023",
            version="v2.4.0-1a2b3c4",
        ),
        # Not there yet: its agent registers LATE_AFTER_MS after the simulator starts.
        Host("new-node-7", {"high": 1, "medium": 2}, registered_at_ms=LATE_AFTER_MS, private_ip="10.0.3.7",
             uptime=30),
    ]  # fmt: skip


def default_containers(demo_image: Image) -> list[Container]:
    return [
        # Runs the demo image (registry.example.com/team/app:1.4.2): that image's findings of every kind.
        Container(
            "nginx-frontend",
            host_name="web-prod-1",
            image_name_with_tag="registry.example.com/team/app:1.4.2",
            image=demo_image,
            command="/docker-entrypoint.sh nginx -g daemon off;",
            ports="0.0.0.0:8080->80/tcp",
            registered_at_ms=-3 * DAY_MS,
        ),
        # Clean; its image is not one the simulated console holds, so no hidden image scan starts for it.
        Container(
            "redis-cache",
            host_name="web-prod-1",
            image_name_with_tag="redis:7.2.4",
            command="docker-entrypoint.sh redis-server",
            ports="6379/tcp",
            ip="172.17.0.3",
            registered_at_ms=-3 * DAY_MS + 60_000,
        ),
    ]
