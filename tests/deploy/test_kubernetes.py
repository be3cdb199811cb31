"""deploy/k8s: receiver, worker and beat Deployments, probes, Service and Ingress, the worker HPA, the migration
Job, a Secret template kept out of kustomize, and one ConfigMap whose public URL is the Ingress host."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.deploy.deploy_commands import role_of
from tests.deploy.deploy_files import K8S, container_argv, containers, k8s_by_kind, k8s_data_items, k8s_docs, load_yaml


def test_k8s_shape() -> None:
    by_kind = k8s_by_kind()
    problems = []
    for _, doc in k8s_docs():
        if doc.get("kind") != "Kustomization" and not (doc.get("apiVersion") and doc.get("metadata", {}).get("name")):
            problems.append(f"{doc.get('kind')}: apiVersion and metadata.name are required")
    deployments = {role_of(container_argv(containers(d)[0])): d for d in by_kind.get("Deployment", [])}
    if set(deployments) != {"receiver", "worker", "beat"}:
        problems.append(f"Deployments for receiver, worker and beat, found {sorted(deployments)}")
    for d in deployments.values():
        if d["spec"]["selector"]["matchLabels"].items() - d["spec"]["template"]["metadata"]["labels"].items():
            problems.append(f"{d['metadata']['name']}: selector does not match the pod labels")
    beat = deployments.get("beat")
    if beat and (beat["spec"].get("replicas") != 1 or beat["spec"].get("strategy", {}).get("type") != "Recreate"):
        problems.append("beat: replicas 1 and strategy Recreate")
    receiver = deployments.get("receiver")
    if receiver:
        pod = receiver["spec"]["template"]
        container = pod["spec"]["containers"][0]
        ports = {key for p in container.get("ports", []) for key in (p.get("name"), p["containerPort"])}
        for probe in ("readinessProbe", "livenessProbe"):
            get = container.get(probe, {}).get("httpGet", {})
            if get.get("path") != "/healthz" or get.get("port") not in ports:
                problems.append(f"receiver: {probe} should GET /healthz on the container's port")
        services = [s for s in by_kind.get("Service", [])
                    if s["spec"].get("selector") and s["spec"]["selector"].items() <= pod["metadata"]["labels"].items()]
        if len(services) != 1:
            problems.append("one Service selecting the receiver pods")
        else:
            service = services[0]
            service_ports = {key for p in service["spec"]["ports"] for key in (p.get("name"), p["port"])}
            for ingress in by_kind.get("Ingress", []) or [{}]:
                backends = [path["backend"]["service"] for rule in ingress.get("spec", {}).get("rules", [])
                            for path in rule["http"]["paths"]]
                if not backends or any(b["name"] != service["metadata"]["name"]
                                       or (b["port"].get("name") or b["port"].get("number")) not in service_ports
                                       for b in backends):
                    problems.append("an Ingress routing to the receiver Service")
    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    worker = deployments.get("worker")
    if len(hpas) != 1 or not worker:
        problems.append("one HorizontalPodAutoscaler for the workers")
    else:
        hpa = hpas[0]
        if hpa["apiVersion"] != "autoscaling/v2" or hpa["spec"]["scaleTargetRef"]["name"] != worker["metadata"]["name"]:
            problems.append("HPA: autoscaling/v2, targeting the worker Deployment")
        if [m.get("resource", {}).get("name") for m in hpa["spec"]["metrics"]] != ["cpu"]:
            problems.append("HPA: scale on CPU")
        if not worker["spec"]["template"]["spec"]["containers"][0].get("resources", {}).get("requests", {}).get("cpu"):
            problems.append("worker: a CPU request, or the HPA has nothing to measure against")
    jobs = [j for j in by_kind.get("Job", []) if role_of(container_argv(containers(j)[0])) == "migrate"]
    if len(jobs) != 1:
        problems.append("one migration Job running `hookline db upgrade`")
    secret_keys = {k for s in by_kind.get("Secret", []) for k, _ in k8s_data_items(s)}
    if not {"COMETAPI_KEY", "HOOKLINE_HOOK_SECRET"} <= secret_keys:
        problems.append("a Secret template with COMETAPI_KEY and HOOKLINE_HOOK_SECRET")
    if len(by_kind.get("ConfigMap", [])) != 1:
        problems.append("one ConfigMap for the other settings")
    images = {c.get("image") for _, doc in k8s_docs() for c in containers(doc)}
    if len(images) != 1:
        problems.append(f"every container should run the one hookline image, found {sorted(map(str, images))}")
    assert not problems, "\n  ".join(["", *problems])


def test_k8s_public_url_matches_ingress_host() -> None:
    by_kind = k8s_by_kind()
    (configmap,) = by_kind["ConfigMap"]
    public = urlsplit(configmap["data"]["HOOKLINE_PUBLIC_URL"])
    hosts = {rule.get("host") for ingress in by_kind.get("Ingress", []) for rule in ingress["spec"]["rules"]}
    assert public.hostname in hosts, f"HOOKLINE_PUBLIC_URL host {public.hostname} is not an Ingress host {hosts}"
    assert public.scheme == "https"


def test_kustomization_lists_real_files_and_skips_the_secret_template() -> None:
    (kustomization,) = load_yaml(K8S / "kustomization.yaml")
    resources = kustomization["resources"]
    missing = [r for r in resources if not (K8S / r).is_file()]
    assert not missing, f"kustomization.yaml lists missing files: {missing}"
    secret_files = {p.name for p, doc in k8s_docs() if doc.get("kind") == "Secret"}
    assert not secret_files & set(resources), "apply -k must never overwrite the real Secret with the template"
