"""An in-memory Deepfence ThreatMapper console (API v2.5) for tests and demos. Standard library only.

It runs vulnerability, secret and malware scans of registry images and of the hosts and containers its
agents report (search, counts and the topology delta included).

`ConsoleSimulator()` serves the default dataset and is itself a WSGI app; `serve(sim)` puts it on real
HTTP (127.0.0.1, a free port, see `.url`); `sim.inject(path, 503, times=2)` makes the console misbehave
and `sim.requests` records what clients sent. `ConsoleSimulator(faults=["/deepfence/auth/token=reset"])`
(or `sim.add_fault`) scripts resets, slow or huge bodies, HTML pages and more per path (faults.py, which
`ci-scan simulator serve --fault` takes too), and `request_log=path` writes a JSON line per request.
`default_dataset(extra_images=500)` adds a registry of 500 more images (`scale_registry`), and
`default_dataset(fault_images=True)` images whose scans report a status the spec does not define.
`sim.register_node("new-node-7")` makes the late host register now, `sim.deregister_node(name)` makes a
node go inactive.
"""

from __future__ import annotations

from .app import ConsoleSimulator, RecordedRequest
from .data import Dataset, Image, Registry, Scenario
from .fault_replies import DropConnection
from .faults import Fault, parse_fault
from .nodes import Container, Host
from .samples import default_dataset
from .scale import scale_registry
from .server import RunningServer, serve, serve_forever
from .tokens import ADMIN_TOKEN, READONLY_TOKEN, STANDARD_TOKEN, ApiUser, Role, make_api_token

__all__ = [
    "ADMIN_TOKEN",
    "READONLY_TOKEN",
    "STANDARD_TOKEN",
    "ApiUser",
    "ConsoleSimulator",
    "Container",
    "Dataset",
    "DropConnection",
    "Fault",
    "Host",
    "Image",
    "RecordedRequest",
    "Registry",
    "Role",
    "RunningServer",
    "Scenario",
    "default_dataset",
    "make_api_token",
    "parse_fault",
    "scale_registry",
    "serve",
    "serve_forever",
]
