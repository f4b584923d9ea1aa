"""Structure checks of terraform/ without a Terraform binary: python-hcl2 parses every .tf file.

What they prove: inputs are typed and described; location-like inputs are required and every
location comes from a variable; the Pub/Sub topics are exactly the wiring source's; each service
account holds exactly the roles of the table below (also in terraform/README.md); the regulatory
bucket keeps its retention policy; provider ranges are pinned. Each check is a function returning
the problems it found, and a mutation test shows it fails on a broken copy.

What they cannot prove: that the provider accepts every attribute (no `terraform validate`), nor
anything about a plan or the real project (terraform/README.md, "what the checks cannot see").
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

import hcl2  # noqa: E402 - python-hcl2 (dev extra) parses the Terraform

from reporting.events import wiring  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
MODULE = TERRAFORM / "modules" / "reporting_region"
WIRING_JSON = MODULE / "wiring.json"
ROOTS = {name: TERRAFORM / "envs" / name for name in ("af", "in", "ksa")}
REGENERATE = ".venv/bin/python -m reporting.cli events wiring > terraform/modules/reporting_region/wiring.json"

Doc = dict[str, Any]  # one parsed .tf file
Tree = dict[str, Doc]  # file name -> parsed file


# ---------------------------------------------------------------- parsing

def _parse(path: Path) -> Doc:
    options = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
    with path.open(encoding="utf-8") as fh:
        return hcl2.load(fh, serialization_options=options)


def parse_dir(directory: Path) -> Tree:
    return {p.name: _parse(p) for p in sorted(directory.glob("*.tf"))}


@pytest.fixture(scope="module")
def module_tree() -> Tree:
    return parse_dir(MODULE)


@pytest.fixture(scope="module")
def root_trees() -> dict[str, Tree]:
    return {name: parse_dir(path) for name, path in ROOTS.items()}


@pytest.fixture(scope="module")
def wiring_json() -> dict:
    return json.loads(WIRING_JSON.read_text(encoding="utf-8"))


def blocks(tree: Tree, kind: str) -> Iterator[tuple[str, str, dict]]:
    """(file, name, body) of every `variable`/`output`/`module`/`provider` block."""
    for file, doc in tree.items():
        for entry in doc.get(kind, []):
            for name, body in entry.items():
                yield file, name, body


def resources(tree: Tree, kind: str = "resource") -> Iterator[tuple[str, str, str, dict]]:
    """(file, type, name, body) of every resource (or data source)."""
    for file, doc in tree.items():
        for entry in doc.get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    yield file, rtype, name, body


def locals_of(tree: Tree) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for doc in tree.values():
        for entry in doc.get("locals", []):
            merged.update(entry)
    return merged


def resource_index(tree: Tree) -> dict[str, dict]:
    return {f"{rtype}.{name}": body for _, rtype, name, body in resources(tree)}


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


# ---------------------------------------------------------------- inputs

def variable_problems(tree: Tree, where: str) -> list[str]:
    problems = []
    for file, name, body in blocks(tree, "variable"):
        if "type" not in body:
            problems.append(f"{where}/{file}: variable {name} has no type")
        if not str(body.get("description", "")).strip():
            problems.append(f"{where}/{file}: variable {name} has no description")
    return problems


LOCATION_VARIABLE = re.compile(r"(^|_)(region|regions|location|locations)$")


def location_variable_problems(tree: Tree, where: str) -> list[str]:
    """Location-like inputs are required: a residency never lands somewhere by default."""
    return [f"{where}/{file}: location-like variable {name} has a default ({body['default']!r}); it must be required"
            for file, name, body in blocks(tree, "variable")
            if LOCATION_VARIABLE.search(name) and "default" in body]


LOCATION_ATTRIBUTES = {"location", "region", "regions", "locations", "allowed_persistence_regions",
                       "data_locations", "trigger_region", "secondary_region"}
REGION_NAME = re.compile(r"\b(africa|asia|australia|europe|me|northamerica|southamerica|us)-[a-z]+[0-9]\b", re.I)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _walk(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _walk(inner, f"{path}[{i}]")
    else:
        yield path, value


def location_literal_problems(tree: Tree, where: str) -> list[str]:
    """Every location-like attribute is a variable/local expression, and no region name is written in code."""
    problems = []
    items: list[tuple[str, Any]] = []
    for file, rtype, name, body in list(resources(tree)) + list(resources(tree, "data")):
        items.append((f"{where}/{file}: {rtype}.{name}", body))
    for kind in ("module", "provider"):
        for file, name, body in blocks(tree, kind):
            items.append((f"{where}/{file}: {kind} {name}", body))
    for file, doc in tree.items():
        for entry in doc.get("locals", []):
            items.append((f"{where}/{file}: locals", entry))
    for label, body in items:
        for path, value in _walk(body, ""):
            attribute = re.sub(r"\[\d+\]", "", path).rsplit(".", 1)[-1]
            if attribute in LOCATION_ATTRIBUTES and value is not None and not is_expression(value):
                problems.append(f"{label}{path} = {value!r}: a location must come from a variable or local")
            elif isinstance(value, str) and attribute not in ("description", "error_message") \
                    and REGION_NAME.search(re.sub(r"\$\{[^}]*\}", "", value)):
                problems.append(f"{label}{path} = {value!r}: a region name written in code")
    return problems


def test_every_variable_is_typed_and_described(module_tree: Tree, root_trees: dict[str, Tree]) -> None:
    problems = variable_problems(module_tree, "module")
    for name, tree in root_trees.items():
        problems += variable_problems(tree, f"envs/{name}")
    assert problems == []


def test_location_inputs_are_required_without_default(module_tree: Tree, root_trees: dict[str, Tree]) -> None:
    names = {name for _, name, _ in blocks(module_tree, "variable")}
    assert {"region", "secondary_region"} <= names
    problems = location_variable_problems(module_tree, "module")
    for name, tree in root_trees.items():
        problems += location_variable_problems(tree, f"envs/{name}")
    assert problems == []


def test_every_location_attribute_comes_from_a_variable(module_tree: Tree, root_trees: dict[str, Tree]) -> None:
    problems = location_literal_problems(module_tree, "module")
    for name, tree in root_trees.items():
        problems += location_literal_problems(tree, f"envs/{name}")
    assert problems == []


def af_region_problems(variables: Tree, tfvars: dict) -> list[str]:
    problems = []
    region = [body for _, name, body in blocks(variables, "variable") if name == "region"]
    if not region:
        problems.append("envs/af: no region variable")
    elif "default" in region[0]:
        problems.append(f"envs/af: region has a default ({region[0]['default']!r}); Afghanistan has no Google Cloud region")
    if "region" in tfvars:
        problems.append(f"envs/af/terraform.tfvars sets region = {tfvars['region']!r} before the DEPLOYMENT_TOPOLOGY decision")
    return problems


def test_af_root_has_no_region_until_it_is_decided(root_trees: dict[str, Tree]) -> None:
    tfvars = _parse(ROOTS["af"] / "terraform.tfvars")
    assert af_region_problems(root_trees["af"], tfvars) == []


def test_ksa_and_in_regions_are_the_recorded_ones() -> None:
    ksa = _parse(ROOTS["ksa"] / "terraform.tfvars")
    india = _parse(ROOTS["in"] / "terraform.tfvars")
    assert (ksa["region"], ksa["secondary_region"]) == ("me-central2", None)
    assert (india["region"], india["secondary_region"]) == ("asia-south1", "asia-south2")


def test_each_root_calls_the_module_for_its_own_residency(root_trees: dict[str, Tree]) -> None:
    for name, tree in root_trees.items():
        calls = [body for _, _, body in blocks(tree, "module")]
        assert len(calls) == 1, name
        assert calls[0]["source"] == "../../modules/reporting_region"
        # The roots share main.tf (envs/common, linked); each names its residency in residency.tf.
        assert calls[0]["residency"] == "${local.residency}"
        residency = [loc["residency"] for doc in tree.values() for loc in doc.get("locals", []) if "residency" in loc]
        assert residency == [name.upper()], name
        backends = [b for doc in tree.values() for t in doc.get("terraform", []) for b in t.get("backend", [])]
        assert backends and backends[0]["gcs"]["prefix"] == f"reporting-service/{name}", name


def test_each_root_passes_every_required_input_and_declares_its_tfvars(module_tree: Tree,
                                                                       root_trees: dict[str, Tree]) -> None:
    required = {name for _, name, body in blocks(module_tree, "variable") if "default" not in body}
    declared = {name for _, name, _ in blocks(module_tree, "variable")}
    for name, tree in root_trees.items():
        call = next(body for _, _, body in blocks(tree, "module"))
        arguments = set(call) - {"source"}
        assert required - arguments == set(), f"envs/{name} does not pass {sorted(required - arguments)}"
        assert arguments - declared == set(), f"envs/{name} passes unknown {sorted(arguments - declared)}"
        root_variables = {v for _, v, _ in blocks(tree, "variable")}
        tfvars = set(_parse(ROOTS[name] / "terraform.tfvars"))
        assert tfvars <= root_variables, f"envs/{name}/terraform.tfvars sets undeclared {sorted(tfvars - root_variables)}"


# ---------------------------------------------------------------- versions

def version_problems(tree: Tree, where: str) -> list[str]:
    problems = []
    settings = [t for doc in tree.values() for t in doc.get("terraform", []) if "required_providers" in t]
    if not settings:
        return [f"{where}: no required_providers"]
    for t in settings:
        if not ("<" in str(t.get("required_version", "")) and ">=" in str(t.get("required_version", ""))):
            problems.append(f"{where}: required_version {t.get('required_version')!r} needs a lower and an upper bound")
        providers = {k: v for entry in t["required_providers"] for k, v in entry.items()}
        if "google" not in providers:
            problems.append(f"{where}: hashicorp/google is not pinned")
        for name, spec in providers.items():
            version = str(spec.get("version", "")) if isinstance(spec, dict) else ""
            if not re.search(r">=\s*\d", version) or not re.search(r"<\s*\d", version):
                problems.append(f"{where}: provider {name} version {version!r} needs a range like \">= 6.0, < 7.0\"")
    return problems


def test_provider_and_terraform_ranges_are_pinned(module_tree: Tree, root_trees: dict[str, Tree]) -> None:
    problems = version_problems(module_tree, "module")
    for name, tree in root_trees.items():
        problems += version_problems(tree, f"envs/{name}")
    assert problems == []


# ---------------------------------------------------------------- wiring (Pub/Sub)

def live_wiring() -> dict:
    """The wiring document as the code produces it, normalized through JSON like the CLI prints it."""
    return json.loads(json.dumps(wiring.as_document(), sort_keys=True))


def topics_of(document: dict) -> set[str]:
    return {t["topic"] for t in document["topics"]} | {d["topic"] for d in document["dead_letter_topics"]}


def subscriptions_of(document: dict) -> set[str]:
    return ({s["name"] for t in document["topics"] + document.get("external_topics", []) for s in t["subscriptions"]}
            | {d["hold_subscription"] for d in document["dead_letter_topics"]})


_FOR_MAP = re.compile(r"^\$\{\{for (\w+) in (.+) : \1\.(\w+) => \1\}\}$")
_FROM_WIRING = re.compile(r"^local\.wiring\.(\w+)$")
_FLATTEN_WIRING = re.compile(r"^flatten\(\[for (\w+) in local\.wiring\.(\w+) : \1\.(\w+)\]\)$")


def wiring_items(expression: str, document: dict) -> dict[str, Any] | None:
    """Evaluate `{for x in local.wiring.<list> : x.<key> => x}` (or its flatten form) against a wiring document."""
    match = _FOR_MAP.match(expression)
    if not match:
        return None
    _, source, key = match.groups()
    if m := _FROM_WIRING.match(source):
        items = document[m.group(1)]
    elif m := _FLATTEN_WIRING.match(source):
        items = [inner for outer in document[m.group(2)] for inner in outer[m.group(3)]]
    else:
        return None
    return {item[key]: item for item in items}


SYMBOLIC = "*"  # a for_each key the checks cannot enumerate (e.g. the regions of a residency)


def for_each_items(body: dict, tree: Tree, document: dict) -> dict[str, Any] | None:
    """key -> each.value of a resource's for_each, as far as the structure allows (None = no for_each)."""
    expression = body.get("for_each")
    if expression is None:
        return None
    local_values = locals_of(tree)
    m = re.fullmatch(r"\$\{(?:toset\()?(local|var)\.(\w+)\)?\}", str(expression))
    if m and m.group(1) == "var":
        return {f"var.{m.group(2)}": f"var.{m.group(2)}"}
    if m:
        value = local_values.get(m.group(2))
        if isinstance(value, list):
            return {v: v for v in value}
        if isinstance(value, dict):
            return dict(value)
        if isinstance(value, str):
            return wiring_items(value, document) or {SYMBOLIC: SYMBOLIC}
    m = re.fullmatch(r"\$\{(google_\w+)\.(\w+)\}", str(expression))
    if m:
        target = resource_index(tree).get(f"{m.group(1)}.{m.group(2)}")
        if target is not None:
            return for_each_items(target, tree, document)
    return {SYMBOLIC: SYMBOLIC}


def terraform_pubsub_names(tree: Tree, document: dict) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(topic name -> resource, subscription name -> resource, problems) as the module would create them."""
    topics: dict[str, str] = {}
    subscriptions: dict[str, str] = {}
    problems = []
    for file, rtype, name, body in resources(tree):
        if rtype not in ("google_pubsub_topic", "google_pubsub_subscription"):
            continue
        address = f"{rtype}.{name}"
        items = for_each_items(body, tree, document)
        field = re.fullmatch(r"\$\{each\.value\.(\w+)\}", str(body.get("name", "")))
        if items is None or SYMBOLIC in items or not field:
            problems.append(f"{file}: {address} (name {body.get('name')!r}) is not generated from wiring.json: "
                            "every topic and subscription is a for_each over local.wiring")
            continue
        target = topics if rtype == "google_pubsub_topic" else subscriptions
        for item in items.values():
            target[item[field.group(1)]] = address
    return topics, subscriptions, problems


def wiring_drift_problems(committed: dict, live: dict) -> list[str]:
    """wiring.json must be exactly what `reporting events wiring` prints today."""
    if committed == live:
        return []
    problems = []
    for label, names_of in (("topic", topics_of), ("subscription", subscriptions_of)):
        missing, extra = names_of(live) - names_of(committed), names_of(committed) - names_of(live)
        problems += [f"{label} {n} is in the wiring source but not in terraform (wiring.json)" for n in sorted(missing)]
        problems += [f"{label} {n} is in terraform (wiring.json) but not in the wiring source" for n in sorted(extra)]
    if not problems:
        problems.append("wiring.json differs from the wiring source (subscription settings)")
    return [f"{p}; regenerate: {REGENERATE}" for p in problems]


def test_wiring_json_is_the_wiring_source(wiring_json: dict) -> None:
    assert wiring_drift_problems(wiring_json, live_wiring()) == []


def test_terraform_topics_are_exactly_the_wiring_topics(module_tree: Tree) -> None:
    live = live_wiring()
    topics, subscriptions, problems = terraform_pubsub_names(module_tree, live)
    problems += [f"topic {t} is in the wiring source but not in terraform" for t in sorted(topics_of(live) - set(topics))]
    problems += [f"topic {t} is in terraform but not in the wiring source" for t in sorted(set(topics) - topics_of(live))]
    problems += [f"subscription {s} is missing from terraform" for s in sorted(subscriptions_of(live) - set(subscriptions))]
    problems += [f"subscription {s} is not in the wiring source" for s in sorted(set(subscriptions) - subscriptions_of(live))]
    assert problems == []
    assert {topics[t] for t in topics_of(live)} == {"google_pubsub_topic.event", "google_pubsub_topic.dead_letter"}


def test_the_module_reads_the_committed_wiring_file(module_tree: Tree) -> None:
    local_values = locals_of(module_tree)
    assert local_values["wiring"] == '${jsondecode(file("${path.module}/wiring.json"))}'


def test_subscriptions_carry_the_wiring_settings(module_tree: Tree) -> None:
    push = resource_index(module_tree)["google_pubsub_subscription.push"]
    assert push["ack_deadline_seconds"] == "${each.value.ack_deadline_seconds}"
    assert push["dead_letter_policy"][0]["max_delivery_attempts"] == "${each.value.max_delivery_attempts}"
    assert push["retry_policy"][0] == {"minimum_backoff": "${each.value.min_backoff_seconds}s",
                                       "maximum_backoff": "${each.value.max_backoff_seconds}s"}
    assert "oidc_token" in push["push_config"][0]
    assert "service_config[0].uri" in push["push_config"][0]["push_endpoint"]
    hold = resource_index(module_tree)["google_pubsub_subscription.dead_letter_hold"]
    assert hold["message_retention_duration"] == "${each.value.retention_days * 86400}s"
    for body in (push, hold):
        assert body["dynamic"][0]["expiration_policy"]["content"][0]["ttl"] == ""


def test_topics_stay_in_the_residency_under_cmek(module_tree: Tree) -> None:
    for _, rtype, name, body in resources(module_tree):
        if rtype == "google_pubsub_topic":
            assert body["message_storage_policy"][0]["allowed_persistence_regions"] == "${local.regions}", name
            assert body["kms_key_name"].startswith("${google_kms_crypto_key."), name


# ---------------------------------------------------------------- roles per service account

_KIND = {"google_storage_bucket": "bucket", "google_pubsub_topic": "topic", "google_pubsub_subscription": "subscription",
         "google_kms_crypto_key": "key", "google_secret_manager_secret": "secret",
         "google_cloudfunctions2_function": "function", "google_cloud_run_v2_job": "job",
         "google_service_account": "sa"}
_TARGET = {"google_project_iam_member": None, "google_bigquery_dataset_iam_member": "dataset_id",
           "google_storage_bucket_iam_member": "bucket", "google_pubsub_topic_iam_member": "topic",
           "google_pubsub_topic_iam_binding": "topic", "google_pubsub_subscription_iam_member": "subscription",
           "google_kms_crypto_key_iam_member": "crypto_key_id", "google_secret_manager_secret_iam_member": "secret_id",
           "google_cloud_run_v2_service_iam_member": "name", "google_cloud_run_v2_job_iam_member": "name",
           "google_service_account_iam_member": "service_account_id"}


def _unquote(index: str) -> str:
    return index.strip().strip('\\"').strip('"')


def _scope(rtype: str, body: dict, key: str | None) -> str:
    attribute = _TARGET[rtype]
    if attribute is None:
        condition = body.get("condition")
        if condition:  # a project-level grant narrowed by an IAM condition: say which
            expression = str((condition[0] if isinstance(condition, list) else condition)["expression"])
            m = re.fullmatch(r'resource\.name\.startsWith\(\\?"projects/\$\{data\.google_project\.this\.number\}'
                             r'/secrets/\$\{each\.value\}\\?"\)', expression)
            assert m, f"{rtype}: unexpected condition {expression!r}"
            return f"project:secrets named var.{_for_each_var(body)}*"
        return "project"
    expression = str(body[attribute])
    if m := re.search(r"\bvar\.(\w+)", expression):
        return f"dataset:var.{m.group(1)}" if attribute == "dataset_id" else f"var.{m.group(1)}"
    if expression.startswith("${each.value."):
        base = re.fullmatch(r"\$\{(google_\w+)\.(\w+)\}", str(body["for_each"]))
        assert base, f"{rtype}: each.value target needs a for_each over a resource"
        return f"{_KIND[base.group(1)]}:{base.group(2)}[{key}]"
    m = re.search(r"(google_\w+)\.(\w+)(?:\[([^\]]+)\])?", expression)
    assert m, f"{rtype}: cannot read the target {expression!r}"
    kind, name, index = _KIND.get(m.group(1), m.group(1)), m.group(2), m.group(3)
    if index is None:
        return f"{kind}:{name}"
    return f"{kind}:{name}[{key if 'each.' in index else _unquote(index)}]"


def _for_each_var(body: dict) -> str:
    m = re.search(r"\bvar\.(\w+)", str(body.get("for_each", "")))
    assert m, "a conditional grant iterates over a variable"
    return m.group(1)


def _principals(member: str, key: str | None, local_values: dict[str, Any]) -> list[str]:
    if m := re.fullmatch(r"\$\{local\.(\w+)\}", member):
        return _principals(str(local_values[m.group(1)]), key, local_values)
    if m := re.fullmatch(r"\$\{\[for (\w+) in local\.(\w+) : (.+)\]\}", member):
        variable, source, template = m.groups()
        return [p for item in local_values[source]
                for p in _principals(template.replace(f"[{variable}]", f'["{item}"]').strip('"'), key, local_values)]
    if m := re.search(r"google_service_account\.sa\[([^\]]+)\]", member):
        index = m.group(1)
        return [key if "each." in index else _unquote(index)]
    if m := re.search(r"google_project_service_identity\.agent\[([^\]]+)\]", member):
        return [f"agent:{_unquote(m.group(1))}"]
    if "google_storage_project_service_account" in member:
        return ["agent:storage"]
    if member.startswith("principalSet://"):
        return ["ci:principalSet"]
    if member in ("allUsers", "allAuthenticatedUsers"):
        return [member]
    if member == "serviceAccount:${each.value}" and key and key.startswith("var."):
        return [key]
    raise AssertionError(f"cannot attribute member {member!r}")


def granted_roles(tree: Tree, document: dict) -> tuple[dict[str, set[str]], list[str]]:
    """principal -> {"role @ scope"} from every IAM member/binding in the tree, and the problems met."""
    grants: dict[str, set[str]] = {}
    problems = []
    local_values = locals_of(tree)
    for file, rtype, name, body in resources(tree):
        if rtype.endswith("_iam_policy") or rtype in ("google_project_iam_binding", "google_project_iam_policy"):
            problems.append(f"{file}: {rtype}.{name} is authoritative over a whole policy; use *_iam_member")
            continue
        if not (rtype.endswith("_iam_member") or rtype.endswith("_iam_binding")):
            continue
        if rtype not in _TARGET:
            problems.append(f"{file}: {rtype}.{name}: unknown IAM resource type, teach the check its target")
            continue
        role = str(body["role"])
        custom = re.fullmatch(r"\$\{google_project_iam_custom_role\.(\w+)\.id\}", role)
        if custom:  # this module's own custom role: named by its role_id (its permissions are checked below)
            target = resource_index(tree).get(f"google_project_iam_custom_role.{custom.group(1)}")
            role = f"custom:{target['role_id']}" if target else role
        if is_expression(role):
            problems.append(f"{file}: {rtype}.{name}: role {role!r} must be written literally")
            continue
        members = body["members"] if "members" in body else [body["member"]]
        items = for_each_items(body, tree, document) or {None: None}
        for key in items:
            for member in (members if isinstance(members, list) else [members]):
                for principal in _principals(str(member), key, local_values):
                    grants.setdefault(principal, set()).add(f"{role} @ {_scope(rtype, body, key)}")
    return grants, problems


def role_problems(granted: dict[str, set[str]], expected: dict[str, set[str]]) -> list[str]:
    problems = []
    for principal in sorted(set(granted) | set(expected)):
        for grant in sorted(granted.get(principal, set()) - expected.get(principal, set())):
            problems.append(f"{principal} holds {grant}, which is not in its row of the roles table")
        for grant in sorted(expected.get(principal, set()) - granted.get(principal, set())):
            problems.append(f"{principal} lacks {grant} from its row of the roles table")
    return problems


def expected_roles(document: dict) -> dict[str, set[str]]:
    """The roles table (terraform/README.md, roles per service account), one scope per grant."""
    events = [t["topic"] for t in document["topics"]]
    consumers = [d["consumer"] for d in document["dead_letter_topics"]]
    pushes = [s["name"] for t in document["topics"] for s in t["subscriptions"]]
    external_pushes = [s["name"] for t in document.get("external_topics", []) for s in t["subscriptions"]]
    sql = {"roles/cloudsql.client @ project", "roles/cloudsql.instanceUser @ project"}
    publish = {f"roles/pubsub.publisher @ topic:event[{t}]" for t in events}
    warehouse = {"roles/bigquery.jobUser @ project", "roles/bigquery.dataViewer @ dataset:var.warehouse_dataset_id"}

    def dead_letter(consumer: str) -> set[str]:
        return {f"roles/pubsub.publisher @ topic:dead_letter[{consumer}]"}

    return {
        "request": sql | publish | {"roles/storage.objectViewer @ bucket:operational",
                                    "roles/storage.objectViewer @ bucket:regulatory",
                                    "roles/cloudkms.cryptoKeyDecrypter @ key:artifact_kek",
                                    "roles/iam.serviceAccountTokenCreator @ sa:sa[request]"},
        "render": sql | publish | warehouse | dead_letter("render") | {
            "roles/storage.objectCreator @ bucket:operational", "roles/storage.objectCreator @ bucket:regulatory",
            "roles/storage.objectViewer @ bucket:operational", "roles/storage.objectViewer @ bucket:regulatory",
            "custom:reportingObjectRetentionSetter @ bucket:regulatory",
            "roles/cloudkms.cryptoKeyEncrypter @ key:artifact_kek"},
        "submit": sql | publish | warehouse | dead_letter("submit") | {
            "roles/storage.objectViewer @ bucket:regulatory",
            "roles/secretmanager.secretAccessor @ secret:adapter[var.adapter_secrets]",
            "roles/secretmanager.secretAccessor @ project:secrets named var.per_property_secret_prefixes*"},
        "region_changed": sql | dead_letter("region_changed"),
        "outbox_sweeper": sql | publish,
        "migrate": sql,
        "backfill": sql | publish | warehouse,
        "import_history": sql | {"roles/storage.objectViewer @ bucket:transfer", "roles/bigquery.jobUser @ project",
                                 "roles/bigquery.dataEditor @ dataset:var.warehouse_dataset_id"},
        "schema_backfill": sql,
        "residency_export": sql | {"roles/storage.objectUser @ bucket:regulatory",
                                   "roles/storage.objectViewer @ bucket:operational",
                                   "roles/cloudkms.cryptoKeyDecrypter @ key:artifact_kek"},
        "residency_import": sql | {"roles/storage.objectViewer @ bucket:transfer",
                                   "roles/storage.objectCreator @ bucket:operational",
                                   "roles/cloudkms.cryptoKeyEncrypter @ key:artifact_kek"},
        "watchdog_submissions": sql | publish,
        "watchdog_runs": sql | publish,
        "scheduler": {f"roles/run.invoker @ job:job[{j}]" for j in ("outbox_sweeper", "watchdog_submissions", "watchdog_runs")},
        "push_invoker": {f"roles/run.invoker @ function:fn[{c}]" for c in ("render", "submit", "region_changed")},
        "deployer": {"roles/run.invoker @ job:job[migrate]"},
        # callers that are not our service accounts
        "allUsers": {"roles/run.invoker @ function:fn[request]"},
        "ci:principalSet": {"roles/iam.workloadIdentityUser @ sa:sa[deployer]"},
        "var.inbound_transfer_writers": {"roles/storage.objectCreator @ bucket:transfer"},
        # Google service agents
        "agent:sqladmin.googleapis.com": {"roles/cloudkms.cryptoKeyEncrypterDecrypter @ key:sql[*]"},
        "agent:secretmanager.googleapis.com": {"roles/cloudkms.cryptoKeyEncrypterDecrypter @ key:secrets[*]"},
        "agent:storage": {"roles/cloudkms.cryptoKeyEncrypterDecrypter @ key:storage"},
        "agent:pubsub.googleapis.com": ({"roles/cloudkms.cryptoKeyEncrypterDecrypter @ key:pubsub"}
                                        | {f"roles/pubsub.publisher @ topic:dead_letter[{c}]" for c in consumers}
                                        | {f"roles/pubsub.subscriber @ subscription:push[{s}]" for s in pushes}
                                        | {f"roles/pubsub.subscriber @ subscription:external_push[{s}]"
                                           for s in external_pushes}),
    }


def test_custom_roles_carry_only_the_permissions_they_are_for(module_tree: Tree) -> None:
    custom = {name: body for _, rtype, name, body in resources(module_tree) if rtype == "google_project_iam_custom_role"}
    assert {name: sorted(body["permissions"]) for name, body in custom.items()} == {
        "object_retention_setter": ["storage.objects.setRetention"]}


def test_each_identity_holds_exactly_the_roles_of_its_row(module_tree: Tree) -> None:
    document = live_wiring()
    granted, problems = granted_roles(module_tree, document)
    assert problems == []
    assert role_problems(granted, expected_roles(document)) == []


def test_every_function_and_job_runs_as_its_own_service_account(module_tree: Tree) -> None:
    local_values = locals_of(module_tree)
    accounts = set(local_values["service_accounts"])
    functions = resource_index(module_tree)["google_cloudfunctions2_function.fn"]
    assert functions["service_config"][0]["service_account_email"] == "${google_service_account.sa[each.key].email}"
    assert set(local_values["functions"]) <= accounts
    job_accounts = [job["service_account"] for job in local_values["jobs"].values()]
    assert sorted(job_accounts) == sorted(set(job_accounts)), "two jobs share a service account"
    assert set(job_accounts) <= accounts
    assert set(local_values["jobs"]) == {"outbox_sweeper", "migrate", "backfill", "import_history", "schema_backfill",
                                         "residency_export", "residency_import", "watchdog_submissions", "watchdog_runs"}


def readme_roles() -> dict[str, set[str]]:
    """Rows `| \\`principal\\` | roles/a, roles/b | … |` of the README's roles table."""
    text = (TERRAFORM / "README.md").read_text(encoding="utf-8")
    section = text.split("## Roles per service account", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if m := re.match(r"^\| `([^`]+)` \| ([^|]*) \|", line):
            rows[m.group(1)] = set(re.findall(r"(?:roles/|custom:)[\w.]+", m.group(2)))
    return rows


def test_the_readme_roles_table_is_the_tested_one() -> None:
    expected = {p: {g.split(" @ ")[0] for g in grants} for p, grants in expected_roles(live_wiring()).items()}
    assert readme_roles() == expected


# ---------------------------------------------------------------- buckets

def regulatory_bucket_problems(tree: Tree) -> list[str]:
    index = resource_index(tree)
    bucket = index.get("google_storage_bucket.regulatory")
    if bucket is None:
        return ["google_storage_bucket.regulatory is missing"]
    label = f"bucket regulatory ({bucket.get('name')})"
    problems = []
    policy = (bucket.get("retention_policy") or [None])[0]
    if not policy:
        problems.append(f"{label} has no retention_policy: regulatory artifacts must be kept (plan §5, SPEC §7)")
    else:
        if policy.get("is_locked") != "${var.regulatory_retention_locked}":
            problems.append(f"{label}: retention_policy.is_locked must be var.regulatory_retention_locked")
        if "var.regulatory_retention_days" not in str(policy.get("retention_period")):
            problems.append(f"{label}: retention_period must come from var.regulatory_retention_days")
    if bucket.get("enable_object_retention") is not True:
        problems.append(f"{label}: enable_object_retention must be true")
    if bucket.get("public_access_prevention") != "enforced":
        problems.append(f"{label}: public_access_prevention must be enforced")
    if bucket.get("uniform_bucket_level_access") is not True:
        problems.append(f"{label}: uniform_bucket_level_access must be true")
    if not (bucket.get("encryption") or [{}])[0].get("default_kms_key_name"):
        problems.append(f"{label}: no CMEK (encryption.default_kms_key_name)")
    if bucket.get("force_destroy") is not False:
        problems.append(f"{label}: force_destroy must be false")
    # Cloud Storage refuses Object Versioning next to a retention policy; the policy already forbids
    # overwriting or deleting an object before it expires. The check keeps it explicit.
    if (bucket.get("versioning") or [{}])[0].get("enabled") is not False:
        problems.append(f"{label}: versioning must be explicitly disabled (incompatible with the retention policy)")
    if any(rule for rule in bucket.get("lifecycle_rule", [])):
        problems.append(f"{label}: no lifecycle rule may delete regulatory artifacts")
    return problems


def test_the_regulatory_bucket_keeps_what_it_must(module_tree: Tree) -> None:
    assert regulatory_bucket_problems(module_tree) == []


def test_every_bucket_is_private_regional_and_cmek(module_tree: Tree) -> None:
    for _, rtype, name, body in resources(module_tree):
        if rtype == "google_storage_bucket":
            assert body["public_access_prevention"] == "enforced", name
            assert body["uniform_bucket_level_access"] is True, name
            assert body["location"] == "${var.region}", name
            assert body["encryption"][0]["default_kms_key_name"] == "${google_kms_crypto_key.storage.id}", name


def test_operational_artifacts_expire_by_retention_class(module_tree: Tree) -> None:
    rules = resource_index(module_tree)["google_storage_bucket.operational"]["lifecycle_rule"]
    by_prefix = [r["condition"][0] for r in rules if r["condition"][0].get("matches_prefix")]
    assert by_prefix == [{"age": "${var.operational_retention_days}", "matches_prefix": ["operational/"]}]


def test_cloud_sql_is_ha_private_backed_up_and_iam_authenticated(module_tree: Tree) -> None:
    sql = resource_index(module_tree)["google_sql_database_instance.main"]
    settings = sql["settings"][0]
    assert sql["database_version"] == "POSTGRES_15"
    assert settings["availability_type"] == "REGIONAL"
    assert settings["ip_configuration"][0]["ipv4_enabled"] is False
    backup = settings["backup_configuration"][0]
    assert backup["enabled"] is True and backup["point_in_time_recovery_enabled"] is True
    flags = {f["name"]: f["value"] for f in settings["database_flags"]}
    assert flags["cloudsql.iam_authentication"] == "on"
    assert sql["encryption_key_name"].startswith("${google_kms_crypto_key.sql[")
    assert "maintenance_window" in settings


def test_every_checkov_skip_gives_its_reason() -> None:
    problems = []
    for path in sorted(TERRAFORM.rglob("*.tf")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "checkov:skip=" in line and not re.search(r"checkov:skip=CKV2?_[A-Z]+_\d+:\s*\S.{10,}", line):
                problems.append(f"{path.relative_to(REPO)}:{number}: a checkov skip without its reason")
    assert problems == []


# ---------------------------------------------------------------- the checks can fail

def test_a_missing_retention_policy_is_named(module_tree: Tree) -> None:
    broken = copy.deepcopy(module_tree)
    resource_index(broken)["google_storage_bucket.regulatory"].pop("retention_policy")
    problems = regulatory_bucket_problems(broken)
    assert len(problems) == 1
    assert "regulatory" in problems[0] and "no retention_policy" in problems[0]


def test_an_extra_role_is_named_with_its_service_account(module_tree: Tree) -> None:
    broken = copy.deepcopy(module_tree)
    broken["iam.tf"]["resource"].append({"google_project_iam_member": {"render_editor": {
        "project": "${var.project_id}", "role": "roles/editor",
        "member": 'serviceAccount:${google_service_account.sa["render"].email}'}}})
    document = live_wiring()
    granted, _ = granted_roles(broken, document)
    assert role_problems(granted, expected_roles(document)) == [
        "render holds roles/editor @ project, which is not in its row of the roles table"]


def test_a_widened_scope_is_named(module_tree: Tree) -> None:
    broken = copy.deepcopy(module_tree)
    resource_index(broken)["google_storage_bucket_iam_member.operational_request"]["bucket"] = \
        "${google_storage_bucket.regulatory.name}"
    document = live_wiring()
    granted, _ = granted_roles(broken, document)
    problems = role_problems(granted, expected_roles(document))
    assert "request lacks roles/storage.objectViewer @ bucket:operational from its row of the roles table" in problems


def test_a_project_wide_policy_is_refused(module_tree: Tree) -> None:
    broken = copy.deepcopy(module_tree)
    broken["iam.tf"]["resource"].append({"google_project_iam_binding": {"owners": {
        "project": "${var.project_id}", "role": "roles/owner", "members": ["user:someone@example.com"]}}})
    _, problems = granted_roles(broken, live_wiring())
    assert problems == ["iam.tf: google_project_iam_binding.owners is authoritative over a whole policy; use *_iam_member"]


def test_a_topic_written_by_hand_is_named(module_tree: Tree) -> None:
    broken = copy.deepcopy(module_tree)
    broken["pubsub.tf"]["resource"].append({"google_pubsub_topic": {"audit": {"name": "reporting.audit.v1"}}})
    _, _, problems = terraform_pubsub_names(broken, live_wiring())
    assert len(problems) == 1 and "google_pubsub_topic.audit" in problems[0]


def test_a_topic_missing_from_wiring_json_is_named_with_the_remedy(wiring_json: dict) -> None:
    live = copy.deepcopy(wiring_json)
    live["topics"].append({"event_type": "report_run.archived.v1", "subscriptions": [],
                           "topic": "reporting.report_run.archived.v1"})
    problems = wiring_drift_problems(wiring_json, live)
    assert problems == ["topic reporting.report_run.archived.v1 is in the wiring source but not in terraform "
                        f"(wiring.json); regenerate: {REGENERATE}"]
    stale = wiring_drift_problems(live, wiring_json)
    assert stale and "is in terraform (wiring.json) but not in the wiring source" in stale[0]


def test_a_changed_subscription_setting_is_caught(wiring_json: dict) -> None:
    live = copy.deepcopy(wiring_json)
    live["topics"][[t["topic"] for t in live["topics"]].index("reporting.report_run.requested.v1")][
        "subscriptions"][0]["max_delivery_attempts"] = 9
    assert wiring_drift_problems(wiring_json, live) == [
        f"wiring.json differs from the wiring source (subscription settings); regenerate: {REGENERATE}"]


def test_a_literal_region_is_named(module_tree: Tree) -> None:
    broken = copy.deepcopy(module_tree)
    resource_index(broken)["google_storage_bucket.transfer"]["location"] = "me-central2"
    problems = location_literal_problems(broken, "module")
    assert problems and all("google_storage_bucket.transfer" in p for p in problems)
    assert any(".location = 'me-central2'" in p for p in problems)


def test_a_region_default_and_an_untyped_variable_are_named(module_tree: Tree, root_trees: dict[str, Tree]) -> None:
    broken = copy.deepcopy(module_tree)
    region = next(body for _, name, body in blocks(broken, "variable") if name == "region")
    region["default"] = "me-central1"
    region.pop("type")
    assert location_variable_problems(broken, "module") == [
        "module/variables.tf: location-like variable region has a default ('me-central1'); it must be required"]
    assert variable_problems(broken, "module") == ["module/variables.tf: variable region has no type"]
    assert af_region_problems(root_trees["af"], {"region": "me-central1"}) == [
        "envs/af/terraform.tfvars sets region = 'me-central1' before the DEPLOYMENT_TOPOLOGY decision"]


def test_an_unpinned_provider_is_named(module_tree: Tree) -> None:
    broken = copy.deepcopy(module_tree)
    broken["versions.tf"]["terraform"][0]["required_providers"][0]["google"]["version"] = ">= 6.0"
    assert version_problems(broken, "module") == [
        "module: provider google version '>= 6.0' needs a range like \">= 6.0, < 7.0\""]
