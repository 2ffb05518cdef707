"""Provision and run the Asterisk 22 root filesystem (Asterisk 部署).

* :func:`ensure_rootfs` creates ``ROOT`` with debootstrap from Debian (minbase + asterisk) when it is
  absent and reuses it when the marker file says it is complete (idempotent).
* :func:`render_configs` renders ``asterisk_conf/*.conf`` (``%%{name}`` placeholders) with the
  configured secrets, ports and addresses into ``ROOT/etc/asterisk/``.
* :func:`install_sounds` generates the Mandarin prompts (espeak-ng + sox, 8 kHz mono) unless
  recordings exist, and copies them and the speech clips into ``ROOT/usr/share/asterisk/sounds``.
* :class:`AsteriskProcess` runs ``chroot ROOT asterisk -f`` as a child, waits for ``FullyBooted`` over
  AMI and stops it cleanly (``core stop now``, then signals).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from callcenter.config import SHARED_DIR, VAR_DIR, AsteriskSettings, Settings, TelephonySettings
from callcenter.plugins.telephony.prompts import all_prompts

log = logging.getLogger(__name__)

MARKER = ".callcenter-rootfs.json"
DEBIAN_MIRROR = os.environ.get("CALLCENTER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SOUNDS_IN_ROOT = Path("usr/share/asterisk/sounds")
SPEECH_CLIPS_DIR = SHARED_DIR / "data" / "speech" / "8k"
STATE_DIR = VAR_DIR / "asterisk"
#: A pytest run owns the one Asterisk of the machine (ports 5038/5060) while it holds this lock.
#: Runs from other checkouts on the same machine share it via CALLCENTER_TEST_ASTERISK_LOCK.
TEST_LOCK_PATH = Path(os.environ.get("CALLCENTER_TEST_ASTERISK_LOCK") or STATE_DIR / "test.lock")
ESPEAK_VOICE = "cmn"
ESPEAK_SPEED = 230  # words per minute; brisk but clear for IVR prompts
_PLACEHOLDER = re.compile(r"%%\{([a-z_][a-z0-9_]*)\}")


class ProvisionError(RuntimeError):
    """Provisioning or running Asterisk failed; the message says what to do."""


# --------------------------------------------------------------------------- root filesystem


def rootfs_ready(root: Path) -> bool:
    return (root / MARKER).is_file() and (root / "usr/sbin/asterisk").is_file()


def ensure_rootfs(root: Path, suite: str = "sid", mirror: str = DEBIAN_MIRROR) -> bool:
    """Create the Asterisk root filesystem if needed. Returns True when it was (re)built."""
    if rootfs_ready(root):
        return False
    if (root / "usr/sbin/asterisk").is_file() and (root / "usr/lib/x86_64-linux-gnu/asterisk").is_dir():
        # A complete tree made by hand or by an older run: adopt it.
        _write_marker(root, suite, adopted=True)
        return False
    if os.geteuid() != 0:
        raise ProvisionError("creating the Asterisk root filesystem needs root (debootstrap, chroot)")
    _ensure_tools({"debootstrap": "debootstrap"})
    if root.exists():
        log.warning("removing incomplete root filesystem %s", root)
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "debootstrap",
        "--variant=minbase",
        "--include=asterisk,asterisk-modules,tzdata",
        suite,
        str(root),
        mirror,
    ]
    log.info("running %s (about a minute)", " ".join(cmd))
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0 or not (root / "usr/sbin/asterisk").is_file():
        tail = (res.stdout + res.stderr).strip()[-1500:]
        raise ProvisionError(f"debootstrap failed (exit {res.returncode}); network to {mirror}?\n{tail}")
    _write_marker(root, suite, adopted=False)
    return True


#: Runtime state that a cloned root filesystem must not inherit from its source.
_CLONE_EXCLUDE = (
    "var/lib/asterisk/astdb.sqlite3",
    "var/run/asterisk",
    "var/log/asterisk",
    "var/spool/asterisk",
)


def clone_rootfs(source: Path, root: Path) -> bool:
    """Make ``root`` a copy of the ready root filesystem ``source`` (another node on this host).

    No network and seconds instead of a debootstrap; runtime state (astdb, pid/ctl files, logs,
    spool) is not copied. Returns False when ``root`` is already ready (idempotent).
    """
    if rootfs_ready(root):
        return False
    if not rootfs_ready(source):
        raise ProvisionError(f"cannot clone {source}: it is not a provisioned root filesystem")
    if os.geteuid() != 0:
        raise ProvisionError("cloning a root filesystem needs root (file owners are kept)")
    tmp = root.with_name(root.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    if root.exists():
        log.warning("removing incomplete root filesystem %s", root)
        shutil.rmtree(root)
    res = subprocess.run(
        ["cp", "-a", "--reflink=auto", str(source), str(tmp)], capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ProvisionError(f"copying {source} failed: {res.stderr.strip()[-500:]}")
    for rel in _CLONE_EXCLUDE:
        path = tmp / rel
        if path.is_dir():
            shutil.rmtree(path)
            path.mkdir(parents=True)
        elif path.exists():
            path.unlink()
    tmp.rename(root)
    return True


def default_state_dir(settings: Settings) -> Path:
    """Where the pid file and console log of this node's Asterisk live.

    ``var/asterisk`` for the default root filesystem; ``<rootfs>-state`` next to any other, so two
    nodes on one host never share a pid file.
    """
    root = settings.asterisk.rootfs
    if root == AsteriskSettings().rootfs:
        return STATE_DIR
    return root.with_name(root.name + "-state")


def _write_marker(root: Path, suite: str, adopted: bool) -> None:
    version = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        version = subprocess.run(
            ["chroot", str(root), "asterisk", "-V"], capture_output=True, text=True, timeout=20, check=False
        ).stdout.strip()
    (root / MARKER).write_text(
        json.dumps(
            {"suite": suite, "asterisk": version, "adopted": adopted, "created": time.time()}, indent=1
        )
    )


# --------------------------------------------------------------------------- configuration


def render_template(text: str, values: dict[str, str], name: str = "template") -> str:
    """Replace ``%%{key}`` placeholders; an unknown placeholder is an error."""

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise ProvisionError(f"{name}: unknown placeholder %%{{{key}}}")
        return values[key]

    return _PLACEHOLDER.sub(sub, text)


def _derived_secret(master: str, label: str) -> str:
    return hmac.new(master.encode(), label.encode(), hashlib.sha256).hexdigest()[:20]


def agent_password(settings: Settings, extension: str) -> str:
    """Softphone password of an agent extension (derived from the signing key; shown by the CLI)."""
    return _derived_secret(settings.secret_key, f"pjsip-agent-{extension}")


def template_values(settings: Settings, opts: TelephonySettings | None = None) -> dict[str, str]:
    """All placeholder values, from the settings (``opts`` replaces ``settings.telephony``)."""
    opts = opts or settings.telephony
    for label, value in (("ami.secret", settings.ami.secret), ("ami.username", settings.ami.username)):
        if not value or any(c in value for c in "\n\r;[]"):
            raise ProvisionError(f"{label} is empty or contains characters not allowed in manager.conf")
    numbers = settings.asterisk.hotline_numbers
    for n in numbers:
        if not n.isdigit():
            raise ProvisionError(f"hotline number {n!r} must be digits")
    hotline_lines = "\n".join(
        f"exten => {n},1,Set(__CC_DIALLED={n})\n same => n,Goto(hotline-entry,s,1)" for n in numbers
    )
    carrier_lines = "\n".join(f"exten => {n},1,Goto(hotline,{n},1)" for n in numbers)
    # extensions of the browser softphone are WebRTC endpoints (pjsip_softphone.conf), not hard phones
    webrtc = set(settings.softphone.extensions)
    endpoints = "\n".join(
        f"[{ext}](agent-phone)\ninbound_auth/username = {ext}\n"
        f"inbound_auth/password = {agent_password(settings, ext)}\n"
        for ext in opts.agent_extensions
        if ext not in webrtc
    )
    return {
        "node": settings.asterisk.node,
        "max_calls": str(opts.max_calls),
        "ami_port": str(settings.ami.port),
        "ami_bind": settings.ami.host,
        "ami_username": settings.ami.username,
        "ami_secret": settings.ami.secret,
        "sip_bind": "127.0.0.1",
        "sip_port": str(settings.asterisk.sip_port),
        "agent_endpoints": endpoints,
        "queue": settings.asterisk.queue,
        "ring_timeout": str(opts.ring_timeout_s),
        "wrapup_time": str(opts.wrapup_time_s),
        "static_members": "",
        "speech_step": "1" if opts.speech_step else "0",
        "audiosocket_addr": f"{settings.speech.audiosocket_host}:{settings.speech.audiosocket_port}",
        "fastagi_host": settings.fastagi_host,
        "fastagi_port": str(settings.fastagi_port),
        "queue_max_wait": str(opts.queue_max_wait_s),
        "business_hours": opts.business_hours,
        "business_days": opts.business_days,
        "timezone": settings.timezone,
        "record_calls": "1" if opts.record_calls or settings.recordings.enabled else "0",
        # browser softphones (SIP over WSS) and the AMI user that reloads their credentials
        "wss_bind": settings.softphone.wss_bind,
        "wss_port": str(settings.softphone.wss_port),
        "http_port": str(settings.softphone.http_port),
        "ami_reload_secret": settings.ami_reload_user()[1],
        "sim_citizen_keys": _keys(opts.sim_citizen_keys),
        "hotline_did_lines": hotline_lines,
        "carrier_did_lines": carrier_lines,
    }


def _keys(value: str) -> str:
    """A keypad script for the dialplan (digits, * # and | only: nothing else reaches extensions.conf)."""
    if not re.fullmatch(r"[0-9*#|]*", value):
        raise ProvisionError(f"telephony.sim_citizen_keys may hold only 0-9 * # and |, not {value!r}")
    return value


def render_configs(settings: Settings, root: Path, opts: TelephonySettings | None = None) -> list[Path]:
    """Render every ``asterisk_conf/*.conf`` into ``ROOT/etc/asterisk``. Returns the written files."""
    values = template_values(settings, opts)
    src = settings.asterisk.conf_dir
    templates = sorted(src.glob("*.conf"))
    if not templates:
        raise ProvisionError(f"no *.conf templates in {src}")
    dest = root / "etc/asterisk"
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for tpl in templates:
        out = dest / tpl.name
        text = render_template(tpl.read_text(encoding="utf-8"), values, tpl.name)
        out.write_text(text, encoding="utf-8")
        if tpl.name == "manager.conf":
            out.chmod(0o600)
        written.append(out)
    return written


# --------------------------------------------------------------------------- sounds


def _run(cmd: list[str]) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise ProvisionError(f"{cmd[0]} failed: {res.stderr.strip()[-500:]}")


def _ensure_tools(tools: dict[str, str]) -> None:
    """Install missing command-line tools (command -> Debian package) with apt-get when root."""
    missing = sorted({pkg for cmd, pkg in tools.items() if shutil.which(cmd) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise ProvisionError(f"missing tools; install them: apt-get install {' '.join(missing)}")
    log.info("installing %s with apt-get", ", ".join(missing))
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", *missing]):
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise ProvisionError(f"{' '.join(cmd)} failed: {res.stderr.strip()[-800:]}")


def synthesize(text: str, out: Path) -> None:
    """Mandarin text -> 8 kHz mono 16-bit WAV (espeak-ng ``-v cmn``, then sox)."""
    _ensure_tools({"espeak-ng": "espeak-ng", "sox": "sox"})
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        _run(["espeak-ng", "-v", ESPEAK_VOICE, "-s", str(ESPEAK_SPEED), "-w", str(raw), text])
        _run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out)])


def _tone(out: Path, spec: list[str]) -> None:
    _ensure_tools({"sox": "sox"})
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(out), "synth", *spec])


def install_sounds(root: Path, conf_dir: Path, cache_dir: Path | None = None) -> dict[str, int]:
    """Generate (or take recorded) prompts and copy them, hold music and speech clips into ROOT.

    Generated files are cached in ``var/asterisk/prompts`` keyed by their text, so re-provisioning is
    fast and a changed text is re-synthesised. Returns counts per kind.
    """
    cache = cache_dir or STATE_DIR / "prompts"
    sounds = root / SOUNDS_IN_ROOT
    recordings = conf_dir / "sounds"
    counts = {"recorded": 0, "generated": 0, "cached": 0, "clips": 0}
    for name, text in all_prompts().items():
        target = sounds / f"{name}.wav"
        recorded = recordings / f"{name}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        if recorded.is_file():
            shutil.copyfile(recorded, target)
            counts["recorded"] += 1
            continue
        key = hashlib.sha1(f"{ESPEAK_VOICE}|{ESPEAK_SPEED}|{text}".encode()).hexdigest()[:12]
        cached = cache / f"{name}.{key}.wav"
        if cached.is_file():
            counts["cached"] += 1
        else:
            synthesize(text, cached)
            counts["generated"] += 1
        shutil.copyfile(cached, target)
    beep = cache / "beep.wav"
    if not beep.is_file():
        _tone(beep, ["0.25", "sine", "1000", "vol", "0.5"])
    shutil.copyfile(beep, sounds / "callcenter/beep.wav")
    moh = cache / "moh-hold.wav"
    if not moh.is_file():
        # a soft two-tone pattern; replace with licensed hold music in production
        _tone(moh, ["20", "sine", "440", "sine", "554", "tremolo", "0.5", "40", "vol", "0.15"])
    (sounds / "callcenter/moh").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(moh, sounds / "callcenter/moh/hold.wav")
    clips_dest = sounds / "callcenter/speech"
    clips_dest.mkdir(parents=True, exist_ok=True)
    if SPEECH_CLIPS_DIR.is_dir():
        for clip in sorted(SPEECH_CLIPS_DIR.glob("*.wav")):
            shutil.copyfile(clip, clips_dest / clip.name)
            counts["clips"] += 1
    return counts


def speech_clip_sound(name: str) -> str:
    """The sound name (as Playback wants it) of a shared speech clip copied into ROOT."""
    return f"callcenter/speech/{Path(name).stem}"


def provision(
    settings: Settings, opts: TelephonySettings | None = None, clone_from: Path | None = None
) -> dict[str, object]:
    """Everything ``callcenter asterisk provision`` does; idempotent.

    ``clone_from``: build the root filesystem as a copy of that ready one (a second node on this
    host) instead of running debootstrap.
    """
    root = settings.asterisk.rootfs
    if clone_from is not None:
        built = clone_rootfs(clone_from, root)
    else:
        built = ensure_rootfs(root, settings.asterisk.debian_suite)
    files = render_configs(settings, root, opts)
    ensure_tls_certificate(root)
    ensure_etc_hosts(root)
    counts = install_sounds(root, settings.asterisk.conf_dir)
    for d in ("var/run/asterisk", "var/log/asterisk", "var/spool/asterisk/monitor", "var/lib/asterisk"):
        (root / d).mkdir(parents=True, exist_ok=True)
    return {"rootfs": str(root), "built": built, "configs": len(files), "sounds": counts}


# --------------------------------------------------------------------------- browser softphones (TLS)

TLS_DIR = Path("etc/asterisk/keys")


def ensure_tls_certificate(root: Path, days: int = 825) -> Path:
    """A self-signed certificate for Asterisk's secure WebSocket (SIP over WSS), made once per root
    filesystem with openssl and never committed. Replace ``keys/softphone.{crt,key}`` with a real one
    in production. Returns the certificate path."""
    keys = root / TLS_DIR
    crt, key = keys / "softphone.crt", keys / "softphone.key"
    if crt.is_file() and key.is_file():
        return crt
    _ensure_tools({"openssl": "openssl"})
    keys.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    _run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            str(days),
            "-subj",
            f"/CN={host}/O=hotline-callcenter",
            "-addext",
            f"subjectAltName=DNS:{host},DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(crt),
        ]
    )
    key.chmod(0o600)
    return crt


def ensure_etc_hosts(root: Path) -> None:
    """debootstrap's minbase has no /etc/hosts; pjproject resolves ``localhost`` for WebSocket contacts."""
    hosts = root / "etc/hosts"
    if not hosts.is_file():
        hosts.write_text(
            f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\t{socket.gethostname()}\n"
        )


# --------------------------------------------------------------------------- AMI probe


def ami_fully_booted(host: str, port: int, username: str, secret: str, timeout: float = 5.0) -> bool:
    """Log in to AMI and return True once ``FullyBooted`` arrives (False on timeout or refusal)."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            login = f"Action: Login\r\nUsername: {username}\r\nSecret: {secret}\r\nEvents: system\r\n\r\n"
            sock.sendall(login.encode())
            buf = b""
            while time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    return False
                buf += chunk
                if b"Authentication failed" in buf:
                    raise ProvisionError("AMI login refused: the AMI secret does not match manager.conf")
                if b"Event: FullyBooted" in buf:
                    with contextlib.suppress(OSError):
                        sock.sendall(b"Action: Logoff\r\n\r\n")
                    return True
                sock.settimeout(max(0.1, deadline - time.monotonic()))
    except (OSError, TimeoutError):
        return False
    return False


# --------------------------------------------------------------------------- process


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child counts as dead
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


class AsteriskProcess:
    """``chroot ROOT asterisk -f`` as a child process (or an already-running one found by pid file)."""

    def __init__(self, settings: Settings, state_dir: Path | None = None) -> None:
        self.settings = settings
        self.root = settings.asterisk.rootfs
        self.state_dir = state_dir or default_state_dir(settings)
        self.pid_file = self.state_dir / "asterisk.pid"
        self.log_file = self.state_dir / "asterisk.out"
        self.proc: subprocess.Popen[bytes] | None = None

    # -- queries
    def pid(self) -> int | None:
        if self.proc is not None and self.proc.poll() is None:
            return self.proc.pid
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) and self._is_asterisk(pid) else None

    @staticmethod
    def _is_asterisk(pid: int) -> bool:
        try:
            return b"asterisk" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    def fully_booted(self, timeout: float = 3.0) -> bool:
        a = self.settings.ami
        return ami_fully_booted(a.host, a.port, a.username, a.secret, timeout)

    def cli(self, command: str, timeout: float = 15.0) -> str:
        """Run an Asterisk CLI command (``asterisk -rx``) inside the chroot."""
        res = subprocess.run(
            ["chroot", str(self.root), "asterisk", "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if res.returncode != 0:
            raise ProvisionError(f"asterisk -rx {command!r} failed: {(res.stderr or res.stdout).strip()}")
        return res.stdout

    # -- control
    def start(self, timeout: float = 60.0) -> int:
        """Start Asterisk (if not running) and wait for FullyBooted. Returns the pid."""
        if not rootfs_ready(self.root):
            raise ProvisionError(
                f"no Asterisk root filesystem at {self.root}: run `callcenter asterisk provision` first"
            )
        pid = self.pid()
        if pid is None:
            if self._port_in_use(self.settings.ami.host, self.settings.ami.port):
                raise ProvisionError(
                    f"AMI port {self.settings.ami.port} is taken by another process (another Asterisk?)"
                )
            for stale in ("var/run/asterisk/asterisk.ctl", "var/run/asterisk/asterisk.pid"):
                with contextlib.suppress(FileNotFoundError):
                    (self.root / stale).unlink()
            self.state_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_file, "ab")  # noqa: SIM115 - owned by the child
            try:
                self.proc = subprocess.Popen(
                    ["chroot", str(self.root), "asterisk", "-f"],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            finally:
                out.close()
            pid = self.proc.pid
            self.pid_file.write_text(str(pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ProvisionError(
                    f"asterisk exited with {self.proc.returncode} during start; see {self.log_file}"
                )
            if self.fully_booted(timeout=2.0):
                return pid
            time.sleep(0.2)
        raise ProvisionError(f"asterisk did not reach FullyBooted in {timeout:.0f} s; see {self.log_file}")

    def stop(self, timeout: float = 15.0) -> bool:
        """Stop cleanly: ``core stop now``, then SIGTERM, then SIGKILL. True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProvisionError, subprocess.TimeoutExpired):
            self.cli("core stop now", timeout=10)
        if not self._wait_exit(pid, timeout):
            self._signal(pid, signal.SIGTERM)
            if not self._wait_exit(pid, 5):
                self._signal(pid, signal.SIGKILL)
                self._wait_exit(pid, 5)
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
        return True

    def kill(self) -> None:
        """``kill -9`` Asterisk (used by the crash test)."""
        pid = self.pid()
        if pid is not None:
            self._signal(pid, signal.SIGKILL)
            self._wait_exit(pid, 10)

    def _signal(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.pid == pid:
                if self.proc.poll() is not None:
                    return True
            elif not _pid_alive(pid):
                return True
            time.sleep(0.1)
        return False

    @staticmethod
    def _port_in_use(host: str, port: int) -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex((host, port)) == 0

    def status(self) -> dict[str, object]:
        pid = self.pid()
        info: dict[str, object] = {
            "rootfs": str(self.root),
            "provisioned": rootfs_ready(self.root),
            "pid": pid,
            "running": pid is not None,
            "fully_booted": bool(pid) and self.fully_booted(timeout=2.0),
        }
        if pid:
            with contextlib.suppress(ProvisionError, subprocess.TimeoutExpired):
                info["uptime"] = self.cli("core show uptime seconds").strip()
        return info
