"""--cluster: the same pipelines on a real Dask cluster (a `dask scheduler` and `dask worker` processes on
127.0.0.1, started here from this venv), with a shared local CS_OUT_DIR. Killed workers, a killed
scheduler, a worker running another version, error records sent back from workers."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from creator_tools import errors
from media_fixtures import script_record

BIN = Path(sys.executable).parent
TEXTS = ["Coffee beans lose their aroma within two weeks.", "Grind them just before you brew.",
         "Warm the cup first."]


def _records(prefix: str = "c") -> list[dict]:
    return [script_record([text], record_id=f"{prefix}{n}") for n, text in enumerate(TEXTS)]


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


class Cluster:
    """A scheduler (scheduler file under ROOT) and workers, each in its own process group, torn down at exit."""

    def __init__(self, root: Path, env: dict | None = None):
        self.root = root
        self.out = root / "out"  # the shared CS_OUT_DIR of every worker and client
        self.file = root / "scheduler.json"
        self.env = {**os.environ, "CS_OUT_DIR": str(self.out), "CS_LLM_THREADS": "1", **(env or {})}
        self.processes: dict[str, subprocess.Popen] = {}
        self.log = open(root / "cluster.log", "ab")

    def _start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        process = subprocess.Popen([str(BIN / "dask"), *argv], cwd=self.root, env={**self.env, **(env or {})},
                                   stdout=self.log, stderr=self.log, start_new_session=True)
        self.processes[name] = process
        return process

    def start_scheduler(self) -> None:
        self.file.unlink(missing_ok=True)
        self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(self.file)])
        deadline = time.monotonic() + 60
        while not (self.file.is_file() and self.file.stat().st_size):
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)

    def start_worker(self, name: str, *extra: str, env: dict | None = None) -> None:
        self._start(name, ["worker", "--scheduler-file", str(self.file), "--host", "127.0.0.1", "--nthreads", "1",
                           "--no-dashboard", "--name", name, *extra], env)

    def wait_for(self, count: int) -> None:
        from distributed import Client

        with Client(scheduler_file=str(self.file), timeout=30, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=90)

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name)
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        self.log.close()

    def run(self, command: str, *args: str, records: list[dict] | str = (), env: dict | None = None,
            timeout: float = 300) -> tuple[int, list[dict], str]:
        """`bash -c COMMAND` in ROOT with $CS (this venv's bin) and $CLUSTER set; records on stdin."""
        text = records if isinstance(records, str) else _jsonl(records)
        done = subprocess.run(["bash", "-o", "pipefail", "-c", command, *args], input=text, capture_output=True,
                              text=True, cwd=self.root, timeout=timeout,
                              env={**self.env, "CS": str(BIN), "CLUSTER": str(self.file), **(env or {})})
        return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers (each under a nanny, one thread), for the whole module."""
    made = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        made.start_scheduler()
        made.start_worker("w1")
        made.start_worker("w2")
        made.wait_for(2)
        yield made
    finally:
        made.close()


PIPELINE = "$CS/cs-voice {c} | $CS/cs-caption {c} | $CS/cs-render {c}"


# --- fast: connection, pickling, resources --------------------------------------------------------------


def test_every_error_type_survives_pickling():
    from creator_tools.cluster import KilledWorker
    from creator_tools.commands.meta import Violations
    from creator_tools.engines.llm import InvalidReply
    from creator_tools.engines.visuals import RateLimited

    made = [errors.MissingInput("voice", "cs-voice", "or give a 'media' path"), errors.BadInput("bad"),
            errors.QuotaDeferred("later"), errors.CSError("odd", retryable=True), errors.ConfigError("set X"),
            errors.UsageError("flags"), KilledWorker("gone"), Violations("meta"), InvalidReply("shape"),
            RateLimited("429")]
    for error in made:
        back = pickle.loads(pickle.dumps(error))
        assert (type(back), back.message, back.retryable, back.type) == (type(error), error.message,
                                                                        error.retryable, error.type)
    assert pickle.loads(pickle.dumps(made[0])).stage == "cs-voice"


def test_an_unreachable_scheduler_is_one_line_naming_the_option(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for address, says in ((f"tcp://127.0.0.1:{port}", "cannot reach the Dask scheduler"),
                          (str(tmp_path / "nope.json"), "scheduler file")):
        done = subprocess.run([str(BIN / "cs-voice"), "--cluster", address], input=_jsonl(_records()[:1]),
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and says in done.stderr and "CS_CLUSTER" in done.stderr, done.stderr


def test_error_records_come_back_from_the_workers(cluster):
    bad = {"id": "empty", "script": {"title": "t", "language": "en", "segments": [], "cta": ""}}
    records = [bad, _records("e")[0], {"id": "noscript"}]
    code, out, err = cluster.run("$CS/cs-voice --cluster $CLUSTER -k", records=_jsonl(records[:1]) + "[1]\n"
                                 + _jsonl(records[1:]))
    assert code == 3, err
    ids = [r["id"] for r in out]  # order kept; the bad line keeps its place as an error record
    assert ids[0] == "empty" and ids[2:] == ["e0", "noscript"] and len(ids) == 4
    assert out[0]["_error"]["command"] == "cs-voice" and out[0]["_error"]["type"] == "BadInput"
    assert "script.segments" in out[0]["_error"]["message"] and out[0]["_error"]["retryable"] is False
    assert out[1]["_error"]["line"] == 2 and out[1]["_error"]["type"] == "BadInput"
    assert out[3]["_error"]["type"] == "MissingInput" and "voice" in out[2]
    lines = err.splitlines()
    assert "cs-voice: error: <stdin>:1: record empty: script.segments" in lines[0]
    assert lines[1].startswith("cs-voice: error: <stdin>:2: not a JSON object")
    assert lines[2] == "cs-voice: error: <stdin>:4: record noscript: record has no 'script' key; run cs-script first"
    assert "Traceback" not in err
    code, out, err = cluster.run("$CS/cs-voice --cluster $CLUSTER", records=[bad, *_records("e")])
    assert code == 1 and out == [] and err.count("error:") == 1  # without -k the first error stops the run


def test_a_gpu_stage_needs_a_worker_with_the_gpu_resource(cluster):
    code, out, err = cluster.run("$CS/cs-caption --device cuda --cluster $CLUSTER", records=_records()[:1])
    assert code == 1 and out == []
    assert "resource GPU=1" in err and "--resources GPU=1" in err, err


def test_a_worker_running_another_version_is_named(cluster):
    cluster.start_worker("odd-one", "--no-nanny", env={"CS_FAKE_VERSION": "0.0.1-other"})
    try:
        cluster.wait_for(3)
        code, out, err = cluster.run("$CS/cs-voice --cluster $CLUSTER", records=_records()[:1])
        assert code == 1 and out == []
        assert "worker odd-one (tcp://127.0.0.1:" in err and "runs creator-tools 0.0.1-other" in err, err
        assert "install the same version on every worker" in err and err.count("\n") == 1
    finally:
        cluster.stop("odd-one")


# --- slow: real models and renders on the workers ---------------------------------------------------------


@pytest.mark.slow
def test_a_shell_pipeline_on_the_cluster_matches_a_local_run_and_a_rerun_computes_nothing(cluster):
    records = _records()
    local_env = {"CS_OUT_DIR": str(cluster.root / "local-out")}
    code, local, err = cluster.run(PIPELINE.format(c="-j 2"), records=records, env=local_env)
    assert code == 0, err
    code, remote, err = cluster.run(PIPELINE.format(c="--cluster $CLUSTER"), records=records)
    assert code == 0, err
    assert [r["id"] for r in remote] == [r["id"] for r in local] == ["c0", "c1", "c2"]  # input order
    for mine, theirs in zip(remote, local):
        assert set(mine) == set(theirs) and mine["script"] == theirs["script"]
        # the same script and settings: the same voice fingerprint (later ones hash the voice's own path)
        assert set(mine["_inputs"]) == {"voice", "caption", "render"}
        assert mine["_inputs"]["voice"] == theirs["_inputs"]["voice"]
        # Piper's timing noise makes each WAV slightly different; everything else is the same
        assert mine["voice"]["duration_s"] == pytest.approx(theirs["voice"]["duration_s"], rel=0.15)
        assert [w["word"] for w in mine["captions"]["words"]] == [w["word"] for w in theirs["captions"]["words"]]
        shape = ("width", "height", "fps", "cards")
        assert {k: mine["video"][k] for k in shape} == {k: theirs["video"][k] for k in shape}
        files = [mine["voice"]["path"], mine["video"]["path"], *(mine["captions"][k] for k in ("srt", "vtt", "ass"))]
        assert all(Path(f).is_file() and Path(f).is_relative_to(cluster.out) for f in files)
    stamps = {p: p.stat().st_mtime_ns for p in cluster.out.rglob("*") if p.is_file()}
    rerun = ("$CS/cs-voice --cluster $CLUSTER --metrics m-v.prom | $CS/cs-caption --cluster $CLUSTER "
             "--metrics m-c.prom | $CS/cs-render --cluster $CLUSTER --metrics m-r.prom")
    code, again, err = cluster.run(rerun, records=remote)
    assert code == 0, err
    assert again == remote
    for name in ("v", "c", "r"):
        assert 'cs_records_skipped_total{command="cs-' in (text := (cluster.root / f"m-{name}.prom").read_text())
        assert [line for line in text.splitlines() if line.startswith("cs_records_skipped_total")][0].endswith(" 3")
    assert {p: p.stat().st_mtime_ns for p in cluster.out.rglob("*") if p.is_file()} == stamps  # nothing rewritten


def _start_render(cluster: Cluster, records: list[dict], *args: str) -> subprocess.Popen:
    """cs-render --cluster in the background, its input from a file (all of it there from the start)."""
    source = cluster.root / f"render-in-{time.monotonic_ns()}.jsonl"
    source.write_text(_jsonl(records))
    with open(source) as stdin:
        return subprocess.Popen([str(BIN / "cs-render"), "--cluster", str(cluster.file), *args], cwd=cluster.root,
                                env=cluster.env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _worker_running_ffmpeg(cluster: Cluster) -> int | None:
    """The pid of a worker process (a child of a nanny of CLUSTER) that has an ffmpeg child right now."""
    groups = {os.getpgid(p.pid) for p in cluster.processes.values()}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "ffmpeg":
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parent, group = int(fields[1]), int(fields[2])
                if group in groups:
                    return parent
        except (OSError, IndexError, ValueError):
            continue
    return None


@pytest.mark.slow
def test_a_worker_killed_mid_render_loses_no_record_and_doubles_none(cluster):
    code, captioned, err = cluster.run("$CS/cs-voice --cluster $CLUSTER | $CS/cs-caption --cluster $CLUSTER",
                                       records=_records("k"))
    assert code == 0, err
    render = _start_render(cluster, captioned)
    victim, deadline = None, time.monotonic() + 120
    while victim is None and time.monotonic() < deadline and render.poll() is None:
        victim = _worker_running_ffmpeg(cluster)
        time.sleep(0.05)
    assert victim, "no render started on a worker"
    os.kill(victim, signal.SIGKILL)  # the nanny starts a new worker; the scheduler reschedules the record
    out, err = render.communicate(timeout=300)
    assert render.returncode == 0, err
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert ids == ["k0", "k1", "k2"], err
    assert all(Path(json.loads(line)["video"]["path"]).is_file() for line in out.splitlines())


@pytest.fixture
def fragile(tmp_path):
    """A cluster of its own (it gets killed): a scheduler that gives up on a record after one lost worker."""
    # one record at a time on the one worker thread, so only the record being rendered dies with the worker
    made = Cluster(tmp_path, env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
                                  "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"})
    try:
        made.start_scheduler()
        made.start_worker("f1")
        made.wait_for(1)
        yield made
    finally:
        made.close()


@pytest.mark.slow
def test_a_record_that_kills_its_worker_becomes_a_killed_worker_error_and_the_rest_flow(fragile):
    code, captioned, err = fragile.run("$CS/cs-voice --cluster $CLUSTER | $CS/cs-caption --cluster $CLUSTER",
                                       records=_records("f"))
    assert code == 0, err
    render = _start_render(fragile, captioned, "-k", "-j", "1")
    victim, deadline = None, time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        victim = _worker_running_ffmpeg(fragile)
        time.sleep(0.05)
    assert victim
    os.kill(victim, signal.SIGKILL)
    out, err = render.communicate(timeout=300)
    records = [json.loads(line) for line in out.splitlines()]
    assert render.returncode == 3, err
    assert [r["id"] for r in records] == ["f0", "f1", "f2"]
    # f0 was rendering when its worker died; f1 may have been waiting on that worker too (-j 1 keeps two
    # records submitted) and then fails alike; f2 went to the restarted worker
    assert records[0]["_error"]["type"] == "KilledWorker" and records[0]["_error"]["retryable"] is True
    assert "_error" not in records[2] and Path(records[2]["video"]["path"]).is_file()
    assert all("video" in r or r["_error"]["type"] == "KilledWorker" for r in records)
    assert "cs-render: error: <stdin>:" in err and "killed its cluster worker" in err


@pytest.mark.slow
def test_a_killed_scheduler_stops_the_run_and_the_rerun_finishes_only_the_rest(fragile):
    code, captioned, err = fragile.run("$CS/cs-voice --cluster $CLUSTER | $CS/cs-caption --cluster $CLUSTER",
                                       records=_records("s"))
    assert code == 0, err
    render = _start_render(fragile, captioned, "-j", "1")
    first = json.loads(render.stdout.readline())  # one record finished: now the scheduler goes
    fragile.stop("scheduler", signal.SIGKILL)
    rest, err = render.communicate(timeout=120)
    assert render.returncode == 1 and len(rest.splitlines()) <= 1
    assert err.count("\n") == 1 and "lost the Dask scheduler" in err and "re-run the same command" in err, err
    done = Path(first["video"]["path"])
    stamp = done.stat().st_mtime_ns
    fragile.stop("f1")
    fragile.start_scheduler()
    fragile.start_worker("f2")
    fragile.wait_for(1)
    code, out, err = fragile.run("$CS/cs-render --cluster $CLUSTER", records=captioned)
    assert code == 0, err
    assert [r["id"] for r in out] == ["s0", "s1", "s2"] and out[0]["video"] == first["video"]
    assert done.stat().st_mtime_ns == stamp  # the finished video was not rendered again


@pytest.mark.slow
def test_the_readme_pipeline_on_two_workers_with_artifacts_in_s3(tmp_path):
    """Issue 9's done line: the README's pipeline, unchanged but for --cluster, on a local scheduler with two
    workers and CS_OUT_DIR=s3://...; records carry s3:// URIs whose objects hold what a local run makes, and
    a re-run computes nothing and puts nothing into the bucket (killed workers: the tests above)."""
    from s3_server import S3Server

    pipeline = ("$CS/cs-voice --engine espeak {c} | $CS/cs-caption {c} | $CS/cs-visuals {c} | $CS/cs-render {c}")
    with S3Server(tmp_path / "moto.log") as s3:
        s3.make_bucket("media")
        env = {**s3.env, "CS_OUT_DIR": "s3://media/cluster"}
        made = Cluster(tmp_path, env=env)
        try:
            made.start_scheduler()
            made.start_worker("w1", env={"CS_CACHE_DIR": str(tmp_path / "cache-w1")})
            made.start_worker("w2", env={"CS_CACHE_DIR": str(tmp_path / "cache-w2")})
            made.wait_for(2)
            records = _records("s")
            local_env = {"CS_OUT_DIR": str(tmp_path / "local-out"), "CS_CACHE_DIR": str(tmp_path / "cache-l")}
            code, local, err = made.run(pipeline.format(c=""), records=records, env=local_env)
            assert code == 0, err
            client_env = {"CS_CACHE_DIR": str(tmp_path / "cache-client")}
            code, remote, err = made.run(pipeline.format(c="--cluster $CLUSTER"), records=records, env=client_env)
            assert code == 0, err
            assert [r["id"] for r in remote] == [r["id"] for r in local] == ["s0", "s1", "s2"]
            for mine, theirs in zip(remote, local):
                assert set(mine) == set(theirs)
                assert mine["voice"]["path"].startswith("s3://media/cluster/")
                assert mine["video"]["path"].startswith("s3://media/cluster/")
                assert all(shot["path"].startswith("s3://") for shot in mine["visuals"])
                # espeak is deterministic: the object holds exactly the bytes of the local run's voice
                bucket_key = mine["voice"]["path"].removeprefix("s3://media/")
                stored = s3.client().get_object(Bucket="media", Key=bucket_key)["Body"].read()
                assert stored == Path(theirs["voice"]["path"]).read_bytes()
                # whisper on one worker thread may case a word differently from the local run's threads
                assert [w["word"].lower() for w in mine["captions"]["words"]] == \
                    [w["word"].lower() for w in theirs["captions"]["words"]]
                assert len(mine["visuals"]) == len(theirs["visuals"])
                assert mine["video"]["width"] == theirs["video"]["width"]
            puts = len(s3.requests("PUT"))
            code, again, err = made.run(pipeline.format(c="--cluster $CLUSTER"), records=remote, env=client_env)
            assert code == 0, err
            assert again == remote and len(s3.requests("PUT")) == puts  # nothing computed, nothing uploaded
        finally:
            made.close()


def test_an_address_that_is_no_scheduler_is_one_line_at_once(tmp_path):
    junk = tmp_path / "passwd"
    junk.write_text("root:x:0:0:root:/root:/bin/bash\n")
    for address, says in ((str(junk), "is not a Dask scheduler file"), ("tcp://", "not a Dask scheduler address"),
                          ("http://127.0.0.1:9", "not a Dask scheduler address")):
        started = time.monotonic()
        done = subprocess.run([str(BIN / "cs-voice"), "--cluster", address], input=_jsonl(_records()[:1]),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and done.stdout == "" and time.monotonic() - started < 10
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("cs-voice: error:") and says in line, done.stderr
