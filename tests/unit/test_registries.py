from __future__ import annotations

from typing import Any

import pytest

from ci_scan import registries
from ci_scan.models import ImageRef
from ci_scan.wire import Registry


def reg(kind: str, node_id: str = "", name: str = "", **non_secret: Any) -> Registry:
    return Registry(node_id=node_id or f"{kind}-1", name=name or kind, registry_type=kind,
                    is_syncing=False, non_secret=non_secret)


@pytest.mark.parametrize(
    ("registry", "ref", "console_name"),
    [
        (reg("docker_private_registry", docker_registry_url="https://registry.example.com"),
         "registry.example.com/team/app:1", "team/app"),
        (reg("docker_private_registry", docker_registry_url="http://reg.local:5000/"),
         "reg.local:5000/app:1", "app"),
        (reg("docker_private_registry", docker_registry_url="https://reg.io:443"), "reg.io/app", "app"),
        (reg("docker_hub", docker_hub_namespace="acme"), "acme/app:2.0", "app"),
        (reg("docker_hub", docker_hub_namespace="acme"), "docker.io/acme/app:2.0", "app"),
        (reg("docker_hub", docker_hub_namespace="library"), "nginx:1.27", "nginx"),
        (reg("quay", quay_registry_url="https://quay.io", quay_namespace="acme"), "quay.io/acme/tool:1", "tool"),
        (reg("harbor", harbor_registry_url="https://harbor.example.com", harbor_project_name="proj"),
         "harbor.example.com/proj/app:1", "proj/app"),
        (reg("gitlab", gitlab_registry_url="registry.gitlab.com", gitlab_server_url="https://gitlab.com"),
         "registry.gitlab.com/group/project/img:1", "group/project/img"),
        (reg("jfrog_container_registry", jfrog_registry_url="https://acme.jfrog.io", jfrog_repository="docker-local"),
         "acme.jfrog.io/docker-local/team/app:1", "team/app"),
        (reg("azure_container_registry", azure_registry_url="https://acme.azurecr.io"),
         "acme.azurecr.io/app:1", "app"),
        (reg("google_container_registry", registry_url="https://gcr.io", project_id="proj"),
         "gcr.io/proj/app:1", "proj/app"),
        (reg("ecr", aws_account_id="123456789012", aws_region_name="eu-west-1"),
         "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1",
         "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"),
        (reg("ecr", is_public="true"), "public.ecr.aws/alias/app:1", "public.ecr.aws/alias/app"),
    ],
)
def test_each_registry_type_matches_its_images(registry: Registry, ref: str, console_name: str) -> None:
    found = registries.match(registry, ImageRef.parse(ref))
    assert found is not None
    assert found.console_name == console_name


@pytest.mark.parametrize(
    ("registry", "ref"),
    [
        (reg("docker_private_registry", docker_registry_url="https://registry.example.com"), "other.io/team/app"),
        (reg("docker_hub", docker_hub_namespace="acme"), "other/app"),
        (reg("docker_hub", docker_hub_namespace="acme"), "reg.io/acme/app"),
        (reg("quay", quay_registry_url="https://quay.io", quay_namespace="acme"), "quay.io/other/tool"),
        (reg("ecr", aws_account_id="1", aws_region_name="us-east-1"), "2.dkr.ecr.us-east-1.amazonaws.com/app"),
        (reg("docker_private_registry"), "registry.example.com/app"),
    ],
)
def test_registries_that_do_not_serve_the_image(registry: Registry, ref: str) -> None:
    assert registries.match(registry, ImageRef.parse(ref)) is None


def test_most_specific_registry_wins_and_ties_are_reported() -> None:
    generic = reg("quay", "q1", quay_registry_url="https://quay.io")
    namespaced = reg("quay", "q2", quay_registry_url="https://quay.io", quay_namespace="acme")
    ref = ImageRef.parse("quay.io/acme/tool:1")
    assert [m.registry.node_id for m in registries.find([generic, namespaced], ref)] == ["q2"]
    twin = reg("quay", "q3", quay_registry_url="https://quay.io", quay_namespace="acme")
    assert len(registries.find([generic, namespaced, twin], ref)) == 2


def test_select_by_node_id_or_unique_name() -> None:
    a, b = reg("harbor", "h-1", "prod"), reg("harbor", "h-2", "prod")
    c = reg("harbor", "h-3", "dev")
    assert registries.select([a, b, c], "h-2") is b
    assert registries.select([a, b, c], "dev") is c
    assert registries.select([a, b, c], "prod") is None
    assert registries.select([a, b, c], "nope") is None
