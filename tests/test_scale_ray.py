"""Scale-out on Ray: the same spec or model on a real local Ray cluster gives the dataset a local run gives.

One cluster of two nodes on this machine (a head and a worker node, one CPU each, so two actors land on two nodes)
serves every test here (started on first use, shut down at the end of the run); tests that do not need it never
start Ray. The two tests that kill the worker node start a new one before they end. The workers import Perpetuum and
the test backend from the same folders as this process (PYTHONPATH in the cluster's runtime environment).

Outputs in an object store go to a real S3 endpoint: a moto server on 127.0.0.1, reached over HTTP by pyarrow's S3
client, with a fresh bucket per test and the standard AWS variables pointing at it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import perpetuum
from perpetuum.errors import ParameterError, ScaleOutError
from perpetuum.pipeline import generate
from perpetuum.pipeline.checkpoint import read_checkpoint_entries
from perpetuum.scale import RayExecutor, RayShardWriter, capacity_shares
from perpetuum.storage import open_folder
from perpetuum.workflow.shards import sample_shards, shard_seed
from test_pipeline_support import EchoBackend  # noqa: F401  (registers the test-echo backend kind)

TESTS = Path(__file__).resolve().parent
SOURCE = Path(perpetuum.__file__).resolve().parents[1]


# Nodes take the machine's own address, as in Ray's own multi-node tests: a driver joining a cluster turns 127.0.0.1
# into that address before it connects, so nodes bound to 127.0.0.1 could not be joined.
NODE = {"num_cpus": 1}


@pytest.fixture(scope="session")
def cluster_nodes():
    """A Ray cluster of a head and a worker node on this machine (one CPU each, separate raylets and object stores),
    shared by every test of the session that asks for it; this process is its driver, connected through the head."""
    ray = pytest.importorskip("ray", reason="the scale-out tests need Ray: pip install 'perpetuum[ray]'")
    from ray.cluster_utils import Cluster

    # A lost node is noticed in about 2 s instead of Ray's default 15 s or more.
    health = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_failure_threshold": 4}
    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False,
                                                              "_system_config": health})
    try:
        cluster.add_node(**NODE)
        paths = [str(SOURCE), str(TESTS), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        ray.init(address=cluster.address, logging_level=logging.WARNING, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}})
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="session")
def ray_cluster(cluster_nodes):
    """The `ray` module, connected to the two-node cluster."""
    import ray

    return ray


def worker_node(cluster):
    return next(iter(cluster.worker_nodes))


def node_of(actor) -> str:
    """The node an actor runs on (the GCS's actor table; Ray's state API needs the dashboard, which is off)."""
    import ray

    return ray._private.state.actors(actor._actor_id.hex())["Address"]["NodeID"]


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server on 127.0.0.1 and a free port, for the tests of this module; stopped after them."""
    server_module = pytest.importorskip("moto.server", reason="the S3 tests need moto: pip install 'moto[server]'")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch, tmp_path) -> str:
    """s3://BUCKET: a new bucket on the local endpoint, with the AWS variables (and only they) pointing at it."""
    from pyarrow.fs import S3FileSystem

    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "perpetuum-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "perpetuum-test-secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = f"perpetuum-{uuid.uuid4().hex[:12]}"
    S3FileSystem(endpoint_override=s3_endpoint.removeprefix("http://"), scheme="http", access_key="perpetuum-test",
                 secret_key="perpetuum-test-secret", allow_bucket_creation=True).create_dir(bucket)
    return f"s3://{bucket}"


def fetch(uri: str, into: Path) -> Path:
    """The files at the top of a remote output folder, downloaded into a local folder."""
    folder = open_folder(uri)
    for name in folder.names():
        folder.download(name, into / name)
    return into


def echo_spec(seed: int = 5, delay: float = 0.0, max_concurrency: int = 4) -> dict:
    """Samplers, a text column, a JSON column and a validator filter on the deterministic test backend, priced."""
    return {
        "name": "echo_scale",
        "seed": seed,
        "backends": {"default": {"kind": "test-echo", "max_concurrency": max_concurrency, "delay": delay}},
        "prices": {"echo-1": {"input_per_million": 1.0, "output_per_million": 2.0}},
        "columns": [
            {"name": "hero", "kind": "sampler", "sampler": "category", "values": {"fox": 2, "owl": 1, "eel": 1}},
            {"name": "size", "kind": "sampler", "sampler": "integer", "low": 1, "high": 9},
            {"name": "story", "kind": "llm_text", "prompt": "A story about a {{ hero }} of size {{ size }}."},
            {"name": "facts", "kind": "llm_json", "prompt": "Facts about {{ hero }}",
             "json_schema": {"type": "object",
                             "properties": {"legs": {"type": "integer", "minimum": 0, "maximum": 8}}}},
            {"name": "has_fox", "kind": "validator", "validator": "regex", "target": "story", "pattern": "fox"},
        ],
        "filters": [{"kind": "validator", "column": "has_fox"}],
    }


def checkpoint_indices(folder) -> list[int]:
    return [entry["index"] for entry in read_checkpoint_entries(folder)]


def assert_same_dataset(ray_folder, local_folder, n: int, checkpoint=None) -> None:
    """Same output bytes, every index once in the checkpoint (`checkpoint`: its folder or URI, if not `ray_folder`),
    and the card's counts, tokens and cost merged."""
    assert (ray_folder / "data.jsonl").read_bytes() == (local_folder / "data.jsonl").read_bytes()
    assert pd.read_parquet(ray_folder / "data.parquet").equals(pd.read_parquet(local_folder / "data.parquet"))
    indices = checkpoint_indices(checkpoint or ray_folder)
    assert sorted(indices) == list(range(n)), "a record was lost or written twice"
    ray_card = json.loads((ray_folder / "card.json").read_text())
    local_card = json.loads((local_folder / "card.json").read_text())
    for key in ("records", "tokens", "cost_usd"):
        assert without_seconds(ray_card[key]) == without_seconds(local_card[key]), key


def without_seconds(value):
    """A card section without its wall times (which differ between any two runs)."""
    if isinstance(value, dict):
        return {key: without_seconds(item) for key, item in value.items() if "seconds" not in key}
    return value


@pytest.fixture(scope="module")
def local_echo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local") / "run"
    generate(echo_spec(), 60, folder, progress=False)
    return folder


def test_a_ray_run_equals_the_local_run(ray_cluster, local_echo_run, tmp_path):
    """Through the command line: `perpetuum generate ... --ray --ray-actors 2` joins the running cluster."""
    import yaml

    from perpetuum.cli import app

    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(echo_spec(), sort_keys=False))
    result = CliRunner().invoke(app, ["generate", str(spec_path), "-n", "60", "-o", str(tmp_path / "ray"), "--ray",
                                      "--ray-actors", "2", "-q"])
    assert result.exit_code == 0, result.output
    assert_same_dataset(tmp_path / "ray", local_echo_run, 60)
    card = json.loads((tmp_path / "ray" / "card.json").read_text())
    assert 0 < card["records"]["kept"] < 60  # the filter ran on the driver, as locally
    backend = card["backends"]["default"]
    assert backend["ray_actors"] == 2 and backend["max_concurrency"] == 8  # each actor has its own echo backend


def _when_checkpointed(location, records: int, action, ready=lambda: True) -> threading.Thread:
    """Run `action` in a thread once the checkpoint at `location` (a folder or URI) holds `records` entries."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if ready() and len(checkpoint_indices(location)) >= records:
                action()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _kill_when(executor: RayExecutor, folder: Path, records: int, which: list[int],
               restart: tuple[int, ...] = ()) -> threading.Thread:
    """Kill the actors at positions `which` once `records` entries are checkpointed; Ray may restart those in
    `restart`, the others are gone for good."""

    import ray

    def kill() -> None:
        for position in which:
            ray.kill(executor.actors_[position], no_restart=position not in restart)

    return _when_checkpointed(folder, records, kill, ready=lambda: bool(executor.actors_))


def test_killed_actors_are_restarted_or_their_records_go_to_the_others(ray_cluster, local_echo_run, tmp_path):
    """Actor 0 is killed and restarted by Ray (its chunk retried, its backends built again); actor 1 is killed for
    good, and its chunks go to actor 0. The run still ends complete, equal to the local one."""
    folder = tmp_path / "ray"
    executor = RayExecutor(actors=2, records_in_flight=4)
    watcher = _kill_when(executor, folder, 10, [0, 1], restart=(0,))
    generate(echo_spec(delay=0.02), 60, folder, progress=False, executor=executor)
    watcher.join()
    # The GCS's actor table (Ray's state API needs the dashboard, which the test cluster does not run).
    restarts = [ray_cluster._private.state.actors(actor._actor_id.hex())["NumRestarts"] for actor in executor.actors_]
    assert restarts == [1, 0]
    assert_same_dataset(folder, local_echo_run, 60)


def test_a_run_whose_actors_all_died_resumes_to_the_uninterrupted_result(ray_cluster, local_echo_run, tmp_path):
    folder = tmp_path / "ray"
    executor = RayExecutor(actors=2, records_in_flight=4)
    watcher = _kill_when(executor, folder, 10, [0, 1])
    with pytest.raises(ScaleOutError, match="--resume"):
        generate(echo_spec(delay=0.02), 60, folder, progress=False, executor=executor)
    watcher.join()
    written = checkpoint_indices(folder)
    assert 10 <= len(written) < 60 and len(set(written)) == len(written)
    # executor="ray": the registered executor with its defaults, one actor per CPU (2 here)
    result = generate(echo_spec(delay=0.02), 60, folder, resume=True, progress=False, executor="ray")
    assert result.card["sessions"] == 2
    assert_same_dataset(folder, local_echo_run, 60)


def run_driver(script: str, folder, records: int, before_kill=lambda: None, temporary: Path | None = None) -> None:
    """Start a driver process running `script`, and SIGKILL it once the checkpoint at `folder` holds `records`
    (`temporary`: its temporary folder, where a run into S3 keeps the working copy that a killed driver leaves)."""
    import signal
    import subprocess

    environment = {**os.environ, **({"TMPDIR": str(temporary)} if temporary else {})}
    driver = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True, env=environment)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and driver.poll() is None:
            if len(checkpoint_indices(folder)) >= records:
                break
            time.sleep(0.05)
        assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
        before_kill()
        os.killpg(driver.pid, signal.SIGKILL)
    finally:
        driver.wait(timeout=30)


def test_a_killed_driver_and_worker_node_resume_to_the_uninterrupted_result(ray_cluster, cluster_nodes,
                                                                            local_echo_run, tmp_path):
    """The driver process (which owns the checkpoint) and the worker node (with one of the two actors) are killed
    mid-run, as when the machines go; a new driver joins the cluster, where a new worker node has started, and
    resumes: the result equals the uninterrupted local run."""
    ray = ray_cluster
    folder = tmp_path / "ray"
    script = (
        "import sys; sys.path[:0] = [{source!r}, {tests!r}]\n"
        "import ray, test_scale_ray as t, test_pipeline_support\n"
        "ray.init(address={address!r}, runtime_env={{'env_vars': {{'PYTHONPATH': {paths!r}}}}})\n"
        "from perpetuum.pipeline import generate\n"
        "from perpetuum.scale import RayExecutor\n"
        "generate(t.echo_spec(delay=0.05), 60, {folder!r}, progress=False,\n"
        "         executor=RayExecutor(address={address!r}, actors=2, records_in_flight=2))\n"
    ).format(source=str(SOURCE), tests=str(TESTS), folder=str(folder),
             address=ray.get_runtime_context().gcs_address, paths=os.pathsep.join([str(SOURCE), str(TESTS)]))
    try:
        run_driver(script, folder, 8,
                   before_kill=lambda: cluster_nodes.remove_node(worker_node(cluster_nodes), allow_graceful=False))
    finally:
        cluster_nodes.add_node(**NODE)
    assert 8 <= len(checkpoint_indices(folder)) < 60
    executor = RayExecutor(actors=2)
    generate(echo_spec(delay=0.05), 60, folder, resume=True, progress=False, executor=executor)
    assert len({node_of(actor) for actor in executor.actors_}) == 2  # the new node took the second actor
    assert_same_dataset(folder, local_echo_run, 60)


def test_a_lost_worker_node_hands_its_actors_chunks_to_the_other_node(ray_cluster, cluster_nodes, local_echo_run,
                                                                       tmp_path):
    """Two actors, one per node; the worker node is killed mid-run (all its processes at once). Its actor cannot come
    back (the head's one CPU is taken), so it stops answering; after actor_timeout it is given up and its chunks go
    to the head's actor: the run ends complete, equal to the local run, with no resume needed."""
    folder = tmp_path / "ray"
    executor = RayExecutor(actors=2, records_in_flight=2, actor_timeout=2.0)
    placed: list[set[str]] = []
    made_before_the_loss: list[int] = []

    def lose_worker_node() -> None:
        placed.append({node_of(actor) for actor in executor.actors_})
        cluster_nodes.remove_node(worker_node(cluster_nodes), allow_graceful=False)
        made_before_the_loss.append(len(checkpoint_indices(folder)))

    watcher = _when_checkpointed(folder, 8, lose_worker_node, ready=lambda: bool(executor.actors_))
    try:
        generate(echo_spec(delay=0.15), 60, folder, progress=False, executor=executor)
        watcher.join()
    finally:
        cluster_nodes.add_node(**NODE)
    assert placed and len(placed[0]) == 2, "the two actors were not on two nodes"
    assert made_before_the_loss[0] < 50, "the node was lost too late to matter"
    assert_same_dataset(folder, local_echo_run, 60)


# ---------------------------------------------------------------------------------------------- the embedded model

EMBEDDED = {
    "name": "embedded_scale",
    "seed": 4,
    "backends": {"default": {"kind": "embedded", "n_threads": 1, "n_parallel": 2, "n_ctx": 512}},
    "columns": [
        {"name": "animal", "kind": "sampler", "sampler": "category", "values": ["cat", "dog", "bird"]},
        {"name": "line", "kind": "llm_text", "prompt": "Write one short sentence about a {{ animal }}.",
         "params": {"max_tokens": 12, "temperature": 0.7}},
    ],
}


def test_an_embedded_model_spec_on_ray_equals_the_local_run(ray_cluster, tmp_path):
    pytest.importorskip("llama_cpp", reason="the embedded backend needs llama-cpp-python")
    local = generate(EMBEDDED, 4, tmp_path / "local", progress=False)
    on_ray = generate(EMBEDDED, 4, tmp_path / "ray", progress=False, executor=RayExecutor(actors=2))
    assert on_ray.records == local.records and len(local.records) == 4
    assert (tmp_path / "ray" / "data.jsonl").read_bytes() == (tmp_path / "local" / "data.jsonl").read_bytes()
    assert without_seconds(on_ray.card["tokens"]) == without_seconds(local.card["tokens"])
    assert on_ray.card["backends"]["default"]["ray_actors"] == 2


# ---------------------------------------------------------------------------------------------- budgets and monitors


def test_a_budget_holds_across_the_actors_and_a_raised_resume_equals_the_uninterrupted_run(ray_cluster, tmp_path):
    """One ledger for every actor: the run stops before the request that could cross the limit (requests in flight
    on both actors counted), keeps what finished, and a resume with a raised limit ends equal to the local run."""
    spec = echo_spec(delay=0.01)
    for column in spec["columns"]:
        if column["kind"].startswith("llm_"):
            column["params"] = {"max_tokens": 24}  # reservations near what the echo backend really uses
    generate(spec, 60, tmp_path / "local", progress=False, cache=False)
    folder = tmp_path / "ray"
    stopped = generate(spec, 60, folder, progress=False, executor=RayExecutor(actors=2, records_in_flight=2),
                       budget={"tokens": 2000})
    assert stopped.stopped["kind"] == "budget" and stopped.stopped["limit"] == "tokens"
    assert "token budget 2,000" in stopped.stopped["reason"]
    budget = stopped.card["economics"]["budget"]
    paid = stopped.card["tokens"]["prompt"] + stopped.card["tokens"]["completion"]
    assert 0 < paid <= budget["spent"]["tokens"] <= 2000
    assert 0 < stopped.n_generated < 60
    resumed = generate(spec, 60, folder, resume=True, progress=False, executor=RayExecutor(actors=2),
                       budget={"tokens": 10**9})
    assert resumed.stopped is None and resumed.card["sessions"] == 2
    assert_same_dataset(folder, tmp_path / "local", 60)


def test_a_lost_ledger_stops_the_run_resumably_instead_of_failing_records(ray_cluster, tmp_path):
    """Without its ledger no limit can be kept: the actors' next requests stop the run (not fail their records),
    and a resume makes the rest."""
    from perpetuum.scale.ray_records import LEDGER_NAME_PREFIX

    def kill_ledger() -> None:
        for name in ray_cluster.util.list_named_actors():
            if name.startswith(LEDGER_NAME_PREFIX):
                ray_cluster.kill(ray_cluster.get_actor(name))

    spec = echo_spec(delay=0.02)
    folder = tmp_path / "ray"
    watcher = _when_checkpointed(folder, 8, kill_ledger)
    stopped = generate(spec, 60, folder, progress=False, executor=RayExecutor(actors=2), budget={"tokens": 10**9})
    watcher.join()
    assert stopped.stopped["limit"] == "ledger" and "budget ledger (a Ray actor) was lost" in stopped.stopped["reason"]
    assert stopped.n_failed == 0 and 8 <= stopped.n_generated < 60
    resumed = generate(spec, 60, folder, resume=True, progress=False, executor=RayExecutor(actors=2),
                       budget={"tokens": 10**9})
    assert resumed.stopped is None and resumed.n_generated == 60 and resumed.n_failed == 0


def test_a_monitor_on_the_driver_stops_the_cluster_run_with_the_reason_on_the_card(ray_cluster, tmp_path):
    spec = {
        "name": "parrot_scale",
        "seed": 1,
        "backends": {"default": {"kind": "test-echo", "echo_only": True, "delay": 0.01}},
        "monitors": {"window": 20, "every": 5, "min_records": 10,
                     "rules": [{"signal": "near_duplicate_rate", "max": 0.3, "action": "stop"}]},
        "columns": [
            {"name": "pet", "kind": "sampler", "sampler": "category", "values": ["cat", "dog"]},
            {"name": "line", "kind": "llm_text",
             "prompt": "Write one long sentence about a {{ pet }} that sits on the warm mat by the door all day."},
        ],
    }
    result = generate(spec, 200, tmp_path, progress=False, executor=RayExecutor(actors=2))
    assert result.stopped["kind"] == "monitor" and result.stopped["limit"] == "near_duplicate_rate"
    assert result.stopped["reason"].endswith("above 0.30: stopping")
    assert 10 <= result.n_generated < 100  # the actors' next requests were refused soon after the stop
    assert result.card["economics"]["monitors"]["stopped"] == result.stopped["reason"]
    assert result.stopped["reason"] in (tmp_path / "card.md").read_text()
    assert sorted(checkpoint_indices(tmp_path)) == sorted(set(checkpoint_indices(tmp_path)))


# ---------------------------------------------------------------------------------------------- tables


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from perpetuum.datasets import load_adult
    from perpetuum.tabular import get_synthesizer

    folder = tmp_path_factory.mktemp("model") / "adult-fast"
    get_synthesizer("fast")(seed=0).fit(load_adult().head(600)).save(folder)
    return folder


def read_shards(folder) -> list[pd.DataFrame]:
    return [pd.read_parquet(path) for path in sorted(Path(folder).glob("part-*.parquet"))]


def test_table_shards_on_ray_equal_the_local_shards(ray_cluster, model_dir, tmp_path):
    local = sample_shards(model_dir, 1000, tmp_path / "local", seed=7, shard_rows=300)
    on_ray = sample_shards(model_dir, 1000, tmp_path / "ray", seed=7, shard_rows=300, executor=RayShardWriter())
    assert [shard["rows"] for shard in local.shards] == [300, 300, 300, 100]
    local_frames, ray_frames = read_shards(tmp_path / "local"), read_shards(tmp_path / "ray")
    assert len(ray_frames) == 4 and all(a.equals(b) for a, b in zip(local_frames, ray_frames))
    assert on_ray.card["rows"] == 1000 and on_ray.card["sharding"]["shards"] == 4


def test_each_shard_is_sampled_with_its_own_seed(model_dir, tmp_path):
    """No Ray here: shard i is the model's sample of its rows with shard_seed(seed, i), whoever writes it."""
    from perpetuum.tabular import load_synthesizer

    sample_shards(model_dir, 500, tmp_path / "out", seed=3, shard_rows=200)
    frames = read_shards(tmp_path / "out")
    model = load_synthesizer(model_dir)
    assert frames[2].equals(model.sample(100, seed=shard_seed(3, 2)))
    assert not frames[0].equals(frames[1])
    assert shard_seed(3, 0) != shard_seed(4, 0)


def test_a_sharded_folder_resumes_with_only_the_missing_shards(model_dir, tmp_path):
    folder = tmp_path / "out"
    first = sample_shards(model_dir, 500, folder, seed=3, shard_rows=200)
    expected = read_shards(folder)
    (folder / "part-00001.parquet").unlink()
    with pytest.raises(ParameterError, match="resume"):
        sample_shards(model_dir, 500, folder, seed=3, shard_rows=200)
    again = sample_shards(model_dir, 500, folder, seed=3, shard_rows=200, resume=True)
    assert again.shards_written == 1 and first.shards_written == 3
    assert all(a.equals(b) for a, b in zip(expected, read_shards(folder)))
    with pytest.raises(ParameterError, match="another model, seed"):
        sample_shards(model_dir, 500, folder, seed=4, shard_rows=200, resume=True)


def test_the_sample_command_writes_shards_into_a_folder(model_dir, tmp_path):
    from perpetuum.cli import app

    result = CliRunner().invoke(app, ["sample", str(model_dir), "-n", "450", "-o", str(tmp_path / "out"),
                                      "--shard-rows", "200", "--seed", "3", "-q"])
    assert result.exit_code == 0, result.output
    assert [len(frame) for frame in read_shards(tmp_path / "out")] == [200, 200, 50]
    refused = CliRunner().invoke(app, ["sample", str(model_dir), "-n", "10", "-o", str(tmp_path / "x.csv"), "--ray"])
    assert refused.exit_code == 2 and "folder" in refused.output


# ---------------------------------------------------------------------------------------------- an object store (S3)


def write_spec(tmp_path, spec: dict) -> Path:
    import yaml

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_generate_into_s3_on_ray_equals_the_local_run(ray_cluster, s3, local_echo_run, tmp_path):
    from perpetuum.cli import app

    uri = f"{s3}/runs/stories"
    result = CliRunner().invoke(app, ["generate", str(write_spec(tmp_path, echo_spec())), "-n", "60", "-o", uri,
                                      "--ray", "--ray-actors", "2", "-q"])
    assert result.exit_code == 0, result.output
    assert {"data.jsonl", "data.parquet", "card.json", "card.md"} <= set(open_folder(uri).names())
    assert_same_dataset(fetch(uri, tmp_path / "fetched"), local_echo_run, 60, checkpoint=uri)
    card = json.loads((tmp_path / "fetched" / "card.json").read_text())
    assert card["files"]["jsonl"] == f"{uri}/data.jsonl"


def test_a_driver_killed_while_writing_to_s3_resumes_to_the_uninterrupted_result(ray_cluster, s3, local_echo_run,
                                                                                tmp_path):
    """A local run uploads its checkpoint shard by shard (here every 5 records); killed mid-run, it loses only its
    open shard. The run resumes from the bucket in another process, on Ray: none lost, none twice, as locally."""
    uri = f"{s3}/runs/killed"
    spec = {**echo_spec(delay=0.1, max_concurrency=2), "execution": {"shard_size": 5}}
    script = (
        "import sys; sys.path[:0] = [{source!r}, {tests!r}]\n"
        "import test_pipeline_support\n"
        "from perpetuum.pipeline import generate\n"
        "generate({spec!r}, 60, {uri!r}, progress=False)\n"
    ).format(source=str(SOURCE), tests=str(TESTS), spec=spec, uri=uri)
    run_driver(script, uri, 10, temporary=tmp_path)
    written = checkpoint_indices(uri)
    assert 10 <= len(written) < 60 and len(set(written)) == len(written)
    result = generate(spec, 60, uri, resume=True, progress=False, executor=RayExecutor(actors=2))
    assert result.card["sessions"] == 2 and result.output_dir == uri
    assert_same_dataset(fetch(uri, tmp_path / "fetched"), local_echo_run, 60, checkpoint=uri)


def read_remote_shards(uri: str) -> list[pd.DataFrame]:
    import pyarrow.parquet as pq

    folder = open_folder(uri)
    frames = []
    for name in folder.names("part-"):
        with folder.open_input_file(name) as handle:
            frames.append(pq.read_table(handle).to_pandas())
    return frames


def test_table_shards_into_s3_on_ray_equal_the_local_shards_and_resume(ray_cluster, model_dir, s3, tmp_path):
    """The Ray tasks write their shards into the bucket themselves; a resume writes only the missing shards and
    one that is not whole Parquet (a broken upload)."""
    from perpetuum.cli import app

    uri = f"{s3}/tables/adult"
    sample_shards(model_dir, 1000, tmp_path / "local", seed=7, shard_rows=300)
    result = CliRunner().invoke(app, ["sample", str(model_dir), "-n", "1000", "-o", uri, "--shard-rows", "300",
                                      "--seed", "7", "--ray", "-q"])
    assert result.exit_code == 0, result.output
    local = read_shards(tmp_path / "local")
    assert len(local) == 4 and all(a.equals(b) for a, b in zip(local, read_remote_shards(uri)))
    folder = open_folder(uri)
    assert {"plan.json", "card.json", "card.md"} <= set(folder.names())
    folder.delete("part-00002.parquet")
    folder.write_bytes("part-00001.parquet", b"PAR1 cut short")
    again = sample_shards(model_dir, 1000, uri, seed=7, shard_rows=300, resume=True)
    assert again.shards_written == 2 and again.output_dir == uri
    assert all(a.equals(b) for a, b in zip(local, read_remote_shards(uri)))


def test_missing_bucket_or_credentials_are_named_before_any_work(s3, model_dir, monkeypatch, tmp_path):
    from perpetuum.cli import app

    spec = str(write_spec(tmp_path, echo_spec()))
    result = CliRunner().invoke(app, ["generate", spec, "-n", "5", "-o", "s3://no-such-bucket/run", "-q"])
    assert result.exit_code == 2 and "bucket 'no-such-bucket'" in result.output and "does not exist" in result.output
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    for command in (["generate", spec, "-n", "5", "-o", f"{s3}/run", "-q"],
                    ["sample", str(model_dir), "-n", "5", "-o", f"{s3}/shards", "-q"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2 and "no AWS credentials found" in result.output, result.output
        assert "Traceback" not in result.output
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "perpetuum-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "perpetuum-test-secret")
    assert open_folder(s3).is_empty()  # refused before anything was written


# ---------------------------------------------------------------------------------------------- without a cluster


def test_without_ray_the_error_says_how_to_install_it(monkeypatch, tmp_path):
    from perpetuum.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    with pytest.raises(ScaleOutError, match=r"pip install 'perpetuum\[ray\]'"):
        generate(echo_spec(), 5, tmp_path / "run", progress=False, executor="ray")
    assert not (tmp_path / "run").exists()  # refused before any file was written
    result = CliRunner().invoke(app, ["generate", str(tmp_path / "missing.yaml"), "-n", "5", "-o",
                                      str(tmp_path / "out"), "--ray"])
    assert result.exit_code == 2 and "perpetuum[ray]" in result.output
    result = CliRunner().invoke(app, ["sample", str(tmp_path / "model"), "-n", "5", "-o", str(tmp_path / "shards"),
                                      "--ray"])
    assert result.exit_code == 2 and "perpetuum[ray]" in result.output and not (tmp_path / "shards").exists()


def test_a_remote_backend_limit_is_split_among_the_actors():
    from perpetuum.pipeline.spec import load_spec

    spec = load_spec({
        "name": "fleet",
        "backends": {"vllm": {"kind": "openai", "base_url": "http://fleet:8000/v1", "model": "m",
                              "max_concurrency": 10},
                     "local": {"kind": "test-echo"}},
        "columns": [{"name": "a", "kind": "llm_text", "prompt": "hi", "backend": "vllm"},
                    {"name": "b", "kind": "llm_text", "prompt": "{{ a }}", "backend": "local"}],
    })
    shares = capacity_shares(spec, None, 4)
    assert [share["vllm"] for share in shares] == [3, 3, 2, 2]
    assert all("local" not in share for share in shares)  # a backend inside each actor keeps its own limit
    with pytest.raises(ParameterError, match="at most that many actors"):
        capacity_shares(spec, None, 11)
