#!/usr/bin/python3
"""A MeowRobot sim worker in Python: serves N copies of a Python simulator over sim protocol v1.

The protocol (docs/protocol.md, "sim protocol v1") is one MessagePack map per ZeroMQ frame; the worker binds a ROUTER
socket, so the C# trainer's client (DEALER) and plain REQ clients both work. Float arrays travel as bin of little-endian
float32, flags as bin of uint8. Every malformed request gets {"ok": False, "error": {"code", "message"}} and the worker
keeps serving.

A simulator is anything with Gymnasium's reset/step API:
    reset(seed=None) -> (obs, info)
    step(action) -> (obs, reward, terminated, truncated, info)
so a Gymnasium (or MuJoCo, or Isaac) environment plugs in directly; see README.md. Needs only Debian's python3-zmq and
python3-msgpack (no numpy): run it with /usr/bin/python3.

    /usr/bin/python3 meow_sim_worker.py --envs 8 --bind tcp://127.0.0.1:5555 --seed 0
    /usr/bin/python3 meow_sim_worker.py --env examples.point_mass:make --envs 8 --bind tcp://127.0.0.1:5555
"""

import argparse
import array
import fcntl
import importlib
import ipaddress
import math
import os
import random
import signal
import socket as socketlib
import sys
import threading

import msgpack
import zmq
import zmq.utils.z85

VERSION = 1
INT32 = (-(2 ** 31), 2 ** 31 - 1)

if sys.byteorder != "little":  # array('f') is host order; the protocol is little-endian
    raise SystemExit("meow_sim_worker.py needs a little-endian host")


class ProtocolError(Exception):
    """A request that breaks the protocol; code is one of docs/protocol.md's error codes."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class TaskSpec:
    """What the hello reply says about the task."""

    def __init__(self, name, obs_dim, act_low, act_high, max_episode_steps, params=None):
        self.name = name
        self.obs_dim = int(obs_dim)
        self.act_low = [float(v) for v in act_low]
        self.act_high = [float(v) for v in act_high]
        self.act_dim = len(self.act_low)
        self.max_episode_steps = int(max_episode_steps)
        # name -> (default, min, max): the randomisable parameters, set on each env with env.set_param(name, value)
        self.params = dict(params or {})


class Pendulum:
    """Gymnasium's Pendulum-v1 in plain Python (g 10, m 1, l 1, dt 0.05, max torque 2, max speed 8), same equations and
    update order as the C# `pendulum` task, with Gymnasium's reset/step API."""

    SPEC = TaskSpec("pendulum", 3, [-2.0], [2.0], 200,
                    params={"mass": (1.0, 0.5, 2.0), "length": (1.0, 0.5, 2.0), "gravity": (10.0, 8.0, 12.0)})

    def __init__(self):
        self.param = {name: d for name, (d, _, _) in self.SPEC.params.items()}
        self.rng = random.Random(0)
        self.theta = 0.0
        self.theta_dot = 0.0

    def set_param(self, name, value):
        self.param[name] = float(value)

    def reset(self, seed=None):
        if seed is not None:
            self.rng.seed(seed)
        self.theta = self.rng.uniform(-math.pi, math.pi)
        self.theta_dot = self.rng.uniform(-1.0, 1.0)
        return self._obs(), {}

    def step(self, action):
        g, m, l, dt = self.param["gravity"], self.param["mass"], self.param["length"], 0.05
        u = min(max(action[0], -2.0), 2.0)
        th = ((self.theta + math.pi) % (2 * math.pi)) - math.pi
        cost = th * th + 0.1 * self.theta_dot ** 2 + 0.001 * u * u
        new_dot = self.theta_dot + (3 * g / (2 * l) * math.sin(self.theta) + 3.0 / (m * l * l) * u) * dt
        new_dot = min(max(new_dot, -8.0), 8.0)
        self.theta += new_dot * dt
        self.theta_dot = new_dot
        return self._obs(), -cost, False, False, {}

    def _obs(self):
        return [math.cos(self.theta), math.sin(self.theta), self.theta_dot]


class Distribution:
    """Per-episode randomisation of one parameter (docs/tasks.md, "Domain randomisation"): uniform(low, high),
    log_uniform(low, high) or normal(mean, std) truncated to [low, high]."""

    KINDS = ("uniform", "log_uniform", "normal")

    def __init__(self, name, dist, low, high, mean=0.0, std=0.0):
        self.name, self.dist, self.low, self.high, self.mean, self.std = name, dist, low, high, mean, std

    def sample(self, rng):
        if self.dist == "uniform":
            x = rng.uniform(self.low, self.high)
        elif self.dist == "log_uniform":
            x = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            for _ in range(64):  # redraw while outside the bounds, as the C# worker does
                x = rng.gauss(self.mean, self.std)
                if self.low <= x <= self.high:
                    break
            else:
                x = self.mean
        return min(max(x, self.low), self.high)

    def wire(self):
        w = {"dist": self.dist, "low": self.low, "high": self.high}
        if self.dist == "normal":
            w.update(mean=self.mean, std=self.std)
        return w


class VectorEnv:
    """N envs stepped together with automatic reset (final_obs keeps the ended episode's last observation) and
    truncation at max_episode_steps; env i's first unseeded episode uses seed base_seed + i. With a randomisation,
    every episode start draws its parameters from a generator seeded by the episode's seed (its own stream, so the
    initial state does not change) and sets them on the env before its reset."""

    def __init__(self, spec, make_env, num_envs, base_seed=0):
        self.spec = spec
        self.envs = [make_env() for _ in range(num_envs)]
        self.steps = [0] * num_envs
        self.base_seed = base_seed
        self.seeded = False
        self.ready = False
        self.randomisation = []
        self.draw_rngs = [random.Random(f"0/draw") for _ in range(num_envs)]
        self.draws = [[] for _ in range(num_envs)]

    def reset(self, seeds=None):
        obs = []
        for i, env in enumerate(self.envs):
            seed = seeds[i] if seeds is not None else (None if self.seeded else self.base_seed + i)
            obs.extend(self._start(i, env, seed))
        self.seeded = True
        self.ready = True
        return obs

    def _start(self, i, env, seed):
        if self.randomisation:
            rng = self.draw_rngs[i]
            if seed is not None:
                rng.seed(f"{seed}/draw")
            self.draws[i] = [d.sample(rng) for d in self.randomisation]
            for d, value in zip(self.randomisation, self.draws[i]):
                env.set_param(d.name, value)
        self.steps[i] = 0
        return self._row(env.reset(seed=seed)[0])

    def episode_params(self):
        """The episode_params reply key: each env's current draws, float64 rows."""
        return {"names": [d.name for d in self.randomisation],
                "values": array.array("d", [v for row in self.draws for v in row]).tobytes()}

    def step(self, actions):
        d = self.spec.act_dim
        obs, final, reward, term, trunc = [], [], [], bytearray(), bytearray()
        for i, env in enumerate(self.envs):
            o, r, te, tr, _ = env.step(actions[i * d:(i + 1) * d])
            o = self._row(o)
            self.steps[i] += 1
            tr = bool(tr) or self.steps[i] >= self.spec.max_episode_steps
            final.extend(o)
            if te or tr:
                o = self._start(i, env, None)
            obs.extend(o)
            reward.append(float(r))
            term.append(1 if te else 0)
            trunc.append(1 if tr else 0)
        return obs, reward, bytes(term), bytes(trunc), final

    def _row(self, o):
        row = [float(v) for v in o]
        if len(row) != self.spec.obs_dim:
            raise ValueError(f"the simulator returned {len(row)} observation values, expected {self.spec.obs_dim}")
        return row


def f32(values):
    return array.array("f", values).tobytes()


def _unique_str_keys(pairs):
    out = {}
    for key, value in pairs:
        if not isinstance(key, str):
            raise ProtocolError("bad_type", "map keys must be str")
        if key in out:
            raise ProtocolError("duplicate_key", f"duplicate map key {key!r}")
        out[key] = value
    return out


MAX_DEPTH = 8  # containers nested deeper than this are refused, as by the C# worker


def _depth(value):
    """Nesting depth of decoded containers (iterative: a hostile message cannot exhaust the stack here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            deepest = max(deepest, d)
            if d <= MAX_DEPTH:
                stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def decode(payload):
    """Exactly one MessagePack map, str keys, no duplicates, no trailing bytes, nesting within MAX_DEPTH; else ProtocolError."""
    try:
        message = msgpack.unpackb(payload, raw=False, strict_map_key=False, object_pairs_hook=_unique_str_keys)
    except ProtocolError:
        raise
    except Exception as e:  # ExtraData, OutOfData, FormatError, StackError, UnicodeDecodeError, ...
        raise ProtocolError("malformed", f"not one MessagePack value: {type(e).__name__}: {e}") from None
    if not isinstance(message, dict):
        raise ProtocolError("malformed", f"a message is a map, got {type(message).__name__}")
    if _depth(message) > MAX_DEPTH:
        raise ProtocolError("malformed", f"containers nested deeper than {MAX_DEPTH}")
    return message


def _is_int(v):
    return type(v) is int  # bool is an int subclass in Python; MessagePack true is not an integer


class SimWorker:
    """The protocol without the transport: handle(request bytes) -> reply bytes, never raises for bad input."""

    def __init__(self, spec, make_env, num_envs, base_seed=0):
        self.spec = spec
        self.env = VectorEnv(spec, make_env, num_envs, base_seed)
        self.session = int.from_bytes(os.urandom(8), "little")

    def handle(self, payload):
        try:
            reply = self._dispatch(decode(payload))
        except ProtocolError as e:
            reply = {"ok": False, "error": {"code": e.code, "message": e.message}}
        except Exception as e:  # the simulator failed: the envs need a reset
            self.env.ready = False
            reply = {"ok": False, "error": {"code": "internal", "message": f"{type(e).__name__}: {e}"}}
        return msgpack.packb({"v": VERSION, **reply}, use_bin_type=True)

    def _dispatch(self, msg):
        if "v" not in msg:
            raise ProtocolError("missing_key", "missing key: v")
        if not _is_int(msg["v"]):
            raise ProtocolError("bad_type", "v must be int")
        if msg["v"] != VERSION:
            raise ProtocolError("bad_version", f"protocol version {msg['v']} is not supported (this side speaks {VERSION})")
        if "op" not in msg:
            raise ProtocolError("missing_key", "missing key: op")
        op = msg["op"]
        if not isinstance(op, str):
            raise ProtocolError("bad_type", "op must be str")
        n, spec = len(self.env.envs), self.spec
        if op == "hello":
            return {"ok": True, "task": spec.name, "num_envs": n, "obs_dim": spec.obs_dim, "act_dim": spec.act_dim,
                    "act_low": spec.act_low, "act_high": spec.act_high, "max_episode_steps": spec.max_episode_steps,
                    "params": self._param_values(),
                    "param_ranges": {k: [lo, hi] for k, (_, lo, hi) in spec.params.items()},
                    "session": self.session,
                    "randomise": {d.name: d.wire() for d in self.env.randomisation}}
        if op == "ping":
            return {"ok": True, "session": self.session}
        if op == "close":
            self.env.ready = False
            return {"ok": True}
        if op == "reset":
            seeds = self._seeds(msg.get("seeds"), n)
            params = self._params(msg.get("params"))
            randomisation = self._randomisation(msg.get("randomise"))
            for env in self.env.envs:
                for name, value in params.items():
                    env.set_param(name, value)
            if randomisation is not None:
                self.env.randomisation = randomisation
            reply = {"ok": True, "obs": f32(self.env.reset(seeds))}
            if self.env.randomisation:
                reply["episode_params"] = self.env.episode_params()
            return reply
        if op == "step":
            if "act" not in msg:
                raise ProtocolError("missing_key", "missing key: act")
            act = msg["act"]
            if not isinstance(act, bytes):
                raise ProtocolError("bad_type", "act must be bin of float32")
            want = n * spec.act_dim
            if len(act) != 4 * want:
                raise ProtocolError("bad_length", f"act has {len(act)} bytes, expected {want} float32 ({4 * want} bytes)")
            actions = array.array("f", act)
            for i, a in enumerate(actions):
                if not math.isfinite(a):
                    raise ProtocolError("bad_value", f"act[{i}] is {a}: actions must be finite")
            if not self.env.ready:
                raise ProtocolError("not_reset", "step before reset: send {\"op\": \"reset\"} first")
            clipped = [min(max(a, spec.act_low[i % spec.act_dim]), spec.act_high[i % spec.act_dim]) for i, a in enumerate(actions)]
            obs, reward, term, trunc, final = self.env.step(clipped)
            reply = {"ok": True, "obs": f32(obs), "reward": f32(reward), "terminated": term, "truncated": trunc,
                     "final_obs": f32(final)}
            if self.env.randomisation:
                reply["episode_params"] = self.env.episode_params()
            return reply
        raise ProtocolError("unknown_op", f"unknown op {op[:64]!r} (known: hello, reset, step, close, ping)")

    def _param_values(self):
        first = self.env.envs[0]
        return {k: float(getattr(first, "param", {}).get(k, d)) for k, (d, _, _) in self.spec.params.items()}

    @staticmethod
    def _seeds(seeds, n):
        if seeds is None:
            return None
        if not isinstance(seeds, list):
            raise ProtocolError("bad_type", "seeds must be array of int")
        if len(seeds) != n:
            raise ProtocolError("bad_length", f"{len(seeds)} seeds for {n} envs")
        for i, s in enumerate(seeds):
            if not _is_int(s):
                raise ProtocolError("bad_type", f"seeds[{i}] must be int")
            if not INT32[0] <= s <= INT32[1]:
                raise ProtocolError("bad_value", f"seeds[{i}] = {s} is outside int32")
        return seeds

    def _params(self, params):
        if params is None:
            return {}
        if not isinstance(params, dict):
            raise ProtocolError("bad_type", "params must be map of str to number")
        for name, value in params.items():
            if type(value) not in (int, float):
                raise ProtocolError("bad_type", f"params.{name} must be number")
            if name not in self.spec.params:
                raise ProtocolError("unknown_param", f"{self.spec.name} has no parameter {name!r} (it has: {', '.join(self.spec.params)})")
            _, lo, hi = self.spec.params[name]
            if not (math.isfinite(value) and lo <= value <= hi):
                raise ProtocolError("out_of_range", f"parameter {name!r} = {value} is outside [{lo}, {hi}]")
        return params


    def _randomisation(self, randomise):
        """The reset's randomise map as Distributions (all checked before anything changes), or None when absent."""
        if randomise is None:
            return None
        if not isinstance(randomise, dict):
            raise ProtocolError("bad_type", "randomise must be map of str to distribution")
        out = []
        for name, d in randomise.items():
            if not isinstance(d, dict):
                raise ProtocolError("bad_type", f"randomise.{name} must be map {{dist, low, high[, mean, std]}}")
            if "dist" not in d:
                raise ProtocolError("missing_key", f"missing key: randomise.{name}.dist")
            if not isinstance(d["dist"], str):
                raise ProtocolError("bad_type", f"randomise.{name}.dist must be str")
            if d["dist"] not in Distribution.KINDS:
                raise ProtocolError("bad_value", f"randomise.{name}.dist = {d['dist'][:64]!r} is none of uniform, log_uniform, normal")
            numbers = {}
            for key in ("low", "high", "mean", "std"):
                v = d.get(key, 0.0 if key in ("mean", "std") else None)
                if type(v) not in (int, float):
                    raise ProtocolError("bad_type", f"randomise.{name}.{key} must be number")
                numbers[key] = float(v)
            lo, hi = numbers["low"], numbers["high"]
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi \
                    or (d["dist"] == "log_uniform" and lo <= 0) \
                    or (d["dist"] == "normal" and not (math.isfinite(numbers["mean"]) and numbers["std"] > 0)):
                raise ProtocolError("bad_value", f"randomisation of {name!r}: not a valid {d['dist']} distribution")
            if name not in self.spec.params:
                raise ProtocolError("unknown_param", f"{self.spec.name} has no parameter {name!r} (it has: {', '.join(self.spec.params)})")
            _, pmin, pmax = self.spec.params[name]
            if lo < pmin or hi > pmax:
                raise ProtocolError("out_of_range", f"randomisation of {name!r}: [{lo}, {hi}] is outside [{pmin}, {pmax}]")
            out.append(Distribution(name, d["dist"], lo, hi, numbers["mean"], numbers["std"]))
        return out


ZAP_DOMAIN = b"meow.sim"
EX_CONFIG = 78  # sysexits.h: configuration error, as the C# services exit on one


def is_loopback(endpoint):
    """ipc://, inproc:// and tcp:// on 127.0.0.0/8, ::1 or localhost: reachable from this machine only."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):].rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_key(path, secret=False):
    """A key file of the C# side (ZmqCurveKeyPair): one 40-character Z85 line, '#' comments; a secret one mode 600."""
    if secret and os.stat(path).st_mode & 0o077:
        raise ValueError(f"{path}: secret key file is accessible to group/others; chmod 600 it")
    with open(path, encoding="ascii") as f:
        lines = [line.strip() for line in f if line.strip() and not line.strip().startswith("#")]
    if len(lines) != 1 or len(lines[0]) != 40:
        raise ValueError(f"{path}: expected one line with a 40-character Z85 key")
    zmq.utils.z85.decode(lines[0])  # raises on characters outside Z85
    return lines[0].encode("ascii")


class Curve:
    """CURVE for the worker, as in docs/protocol.md ("Security"): its secret key and the allow-listed clients' public
    keys (every *.key file of a directory). A ZAP handler thread admits those keys only; every refusal is counted
    (`refused`) and logged on stderr."""

    def __init__(self, secret_key_file, allowed_dir):
        self.secret = read_key(secret_key_file, secret=True)
        self.allowed = {zmq.utils.z85.decode(read_key(os.path.join(allowed_dir, name)))
                        for name in sorted(os.listdir(allowed_dir)) if name.endswith(".key")}
        if not self.allowed:
            raise ValueError(f"no client public keys (*.key) in {allowed_dir}: no trainer or controller could connect")
        self.refused = 0
        self.admitted = 0
        self._stop = threading.Event()
        self._thread = None

    def start(self, context):
        """Binds the ZAP handler on context (before any CURVE server socket) and serves it on a thread."""
        zap = context.socket(zmq.REP)
        zap.setsockopt(zmq.LINGER, 0)
        zap.bind("inproc://zeromq.zap.01")
        self._thread = threading.Thread(target=self._serve, args=(zap,), daemon=True, name="zap")
        self._thread.start()

    def secure(self, socket):
        socket.setsockopt(zmq.CURVE_SERVER, 1)
        socket.setsockopt(zmq.CURVE_SECRETKEY, self.secret)
        socket.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
        socket.setsockopt(getattr(zmq, "ZAP_ENFORCE_DOMAIN", 93), 1)  # no handler: refuse, never admit

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _serve(self, zap):
        try:
            while not self._stop.is_set():
                if not zap.poll(200):
                    continue
                request = zap.recv_multipart()
                status, text = self._decide(request)
                zap.send_multipart([b"1.0", request[1] if len(request) > 1 else b"", status, text,
                                    zmq.utils.z85.encode(request[6]) if status == b"200" else b"", b""])
                if status == b"200":
                    self.admitted += 1
                else:
                    self.refused += 1
                    address = request[3].decode("ascii", "replace") if len(request) > 3 else "?"
                    key = zmq.utils.z85.encode(request[6]).decode() if len(request) == 7 and len(request[6]) == 32 else "(none)"
                    print(f"refused a client handshake from {address} (key {key}): {text.decode()}; {self.refused} refused so far",
                          file=sys.stderr, flush=True)
        finally:
            zap.close(0)

    def _decide(self, request):
        # version, request id, domain, address, routing id, mechanism, credentials...
        if len(request) < 6 or request[0] != b"1.0":
            return b"500", b"malformed ZAP request"
        if request[2] != ZAP_DOMAIN:
            return b"400", b"unknown domain"
        if request[5] != b"CURVE" or len(request) != 7 or len(request[6]) != 32:
            return b"400", b"CURVE required"
        return (b"200", b"OK") if request[6] in self.allowed else (b"400", b"client key not allowed")


def hold_ipc_path(endpoint):
    """Takes an ipc:// path as the C# worker does (IpcPathLock): an exclusive flock on PATH.lock, refused while another
    live worker holds it; a socket file left at PATH with the lock free is a dead worker's and is removed, unless
    something still listens on it. Returns the lock file (keep it open while serving) or None for other endpoints."""
    if not endpoint.startswith("ipc://") or endpoint == "ipc://*" or endpoint.startswith("ipc://@"):
        return None
    path = endpoint[len("ipc://"):]
    lock = open(path + ".lock", "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise SystemExit(f"{endpoint}: another live sim worker holds {path} ({path}.lock is locked)")
    if os.path.exists(path):
        probe = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
        try:
            probe.connect(path)
            lock.close()
            raise SystemExit(f"{endpoint}: a process that does not take {path}.lock listens on {path}")
        except (ConnectionRefusedError, FileNotFoundError, OSError):
            os.unlink(path)  # a dead worker's socket file
            print(f"removed a dead worker's socket file before binding {endpoint}", file=sys.stderr, flush=True)
        finally:
            probe.close()
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def serve(worker, endpoint, stop=lambda: False, curve=None):
    """Binds a ROUTER on endpoint and answers requests until stop() or SIGTERM/SIGINT. Prints the bound endpoint
    (useful with tcp://host:*) as the first line on stdout. With curve (a Curve) only allow-listed clients get through;
    without, only a loopback or ipc endpoint is bound (ValueError otherwise)."""
    if curve is None and not is_loopback(endpoint):
        raise ValueError(f"{endpoint} is reachable from the network: give the worker CURVE keys "
                         "(--secret-key and --allowed-client-keys) or bind loopback/ipc")
    ipc_lock = hold_ipc_path(endpoint)  # before binding: libzmq would take a live worker's path silently
    context = zmq.Context()
    if curve is not None:
        curve.start(context)
    socket = context.socket(zmq.ROUTER)
    socket.setsockopt(zmq.LINGER, 0)
    # Bounded per peer, and no ZMTP heartbeats (libzmq 4.3.4 can abort on them, see docs/protocol.md); kernel keepalive
    # drops vanished peers.
    socket.setsockopt(zmq.RCVHWM, 4)
    socket.setsockopt(zmq.SNDHWM, 64)  # replies a peer does not read: dropped beyond this (4 dropped a REQ's replies)
    socket.setsockopt(zmq.TCP_KEEPALIVE, 1)
    socket.setsockopt(zmq.TCP_KEEPALIVE_IDLE, 10)
    socket.setsockopt(zmq.TCP_KEEPALIVE_INTVL, 2)
    socket.setsockopt(zmq.TCP_KEEPALIVE_CNT, 3)
    if curve is not None:
        curve.secure(socket)
    socket.bind(endpoint)
    print(f"listening on {socket.getsockopt_string(zmq.LAST_ENDPOINT)}", flush=True)
    running = [True]

    def on_signal(signum, frame):
        running[0] = False

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    poller = zmq.Poller()
    poller.register(socket, zmq.POLLIN)
    try:
        while running[0] and not stop():
            if not poller.poll(200):
                continue
            frames = socket.recv_multipart()
            # ROUTER: [identity, (empty delimiter from REQ), payload]; everything before the payload is the envelope.
            if len(frames) < 2:
                continue
            socket.send_multipart(frames[:-1] + [worker.handle(frames[-1])])
    finally:
        socket.close(0)
        if curve is not None:
            curve.stop()
        context.term()
        if ipc_lock is not None:
            ipc_lock.close()


def load_env_factory(target):
    """--env module:factory -> the factory, a callable returning a new Gymnasium-style env. The module is imported as
    Python imports any module (PYTHONPATH, then the current directory); factory may be dotted (module:Class.make)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise SystemExit(f"--env wants module:factory (e.g. examples.point_mass:make), got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        factory = importlib.import_module(module_name)
    except ImportError as e:
        raise SystemExit(f"--env {target}: cannot import module {module_name!r}: {e}")
    for part in attr.split("."):
        if not hasattr(factory, part):
            raise SystemExit(f"--env {target}: {module_name} has no {attr!r}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise SystemExit(f"--env {target}: {attr!r} is not callable")
    return factory


def spec_from_env(env, name, max_episode_steps=None):
    """The TaskSpec of a Gymnasium-style env: the observation size from observation_space.shape, the action box from
    action_space.low/high (a Gymnasium Box, or anything with those attributes), the episode length from the argument,
    else env.spec.max_episode_steps (Gymnasium's registry), else env.max_episode_steps, and the randomisable parameters
    from env.meow_params ({name: (default, min, max)}, optional; the worker then calls env.set_param(name, value))."""
    try:
        obs_space, act_space = env.observation_space, env.action_space
        obs_dim = 1
        for n in obs_space.shape:
            obs_dim *= int(n)
        low, high = [float(v) for v in act_space.low], [float(v) for v in act_space.high]
    except (AttributeError, TypeError) as e:
        raise SystemExit(f"the env has no usable observation_space.shape / action_space.low and .high: {e}")
    steps = max_episode_steps or getattr(getattr(env, "spec", None), "max_episode_steps", None) or getattr(env, "max_episode_steps", None)
    if not steps:
        raise SystemExit("the env says no episode length: pass --max-episode-steps N")
    return TaskSpec(name, obs_dim, low, high, int(steps), params=getattr(env, "meow_params", None))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Python sim worker (sim protocol v1): a Python pendulum, or any "
                                                 "Gymnasium-style env with --env module:factory")
    parser.add_argument("--envs", type=int, default=1, help="number of env copies (default 1)")
    parser.add_argument("--bind", required=True, help="endpoint, e.g. tcp://127.0.0.1:5555, tcp://127.0.0.1:*, ipc:///tmp/sim.sock")
    parser.add_argument("--seed", type=int, default=0, help="base seed: env i's first episode uses seed + i")
    parser.add_argument("--secret-key", help="the worker's CURVE secret key file (mode 600; `./meow sim keys generate`)")
    parser.add_argument("--allowed-client-keys", help="directory of the allowed clients' public key files (*.key)")
    parser.add_argument("--env", metavar="MODULE:FACTORY",
                        help="serve FACTORY() from MODULE (reset/step as Gymnasium's) instead of the built-in pendulum")
    parser.add_argument("--name", help="task name in the hello reply (default: FACTORY's module name)")
    parser.add_argument("--max-episode-steps", type=int, help="time limit (default: what the env says)")
    args = parser.parse_args(argv)
    if args.envs < 1:
        parser.error("--envs must be at least 1")
    # Configuration errors exit 78 before any socket is opened, as the C# services do.
    try:
        if (args.secret_key is None) != (args.allowed_client_keys is None):
            raise ValueError("--secret-key and --allowed-client-keys go together")
        curve = Curve(args.secret_key, args.allowed_client_keys) if args.secret_key else None
        if curve is None and not is_loopback(args.bind):
            raise ValueError(f"{args.bind} is reachable from the network: give the worker CURVE keys "
                             "(--secret-key and --allowed-client-keys) or bind loopback/ipc")
    except (OSError, ValueError) as e:
        print(f"meow_sim_worker.py: {e}", file=sys.stderr)
        sys.exit(EX_CONFIG)
    if args.env is None:
        spec, make_env = Pendulum.SPEC, Pendulum
    else:
        make_env = load_env_factory(args.env)
        spec = spec_from_env(make_env(), args.name or args.env.partition(":")[0].rpartition(".")[2], args.max_episode_steps)
    serve(SimWorker(spec, make_env, args.envs, args.seed), args.bind, curve=curve)


if __name__ == "__main__":
    main()
