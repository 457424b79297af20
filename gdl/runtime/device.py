"""Choosing and describing an OpenCL device; the owner of its context and caches.

`Device` holds one context and in-order queue, the compiled-program cache
(keyed by source and build options) and the counters `--stats` shows.  It is
the runtime's object, not the user-facing Session.  Built programs also go to
gdl's disk cache (`cachefiles`) as device binaries keyed by source, options,
device and driver: pyopencl leaves PoCL to its own source cache, which still
costs ~30 ms a program in every process; loading a binary costs ~2 ms.
`select` picks a device: a GPU if there is one, else a CPU (PoCL from
pocl-binary-distribution is always there), or what `--device` / `GDL_DEVICE`
ask for.  With no OpenCL device at all it raises a clear `GdlRuntimeError`:
there is no fallback.
Imports pyopencl, numpy, `errors`, `cachefiles`.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from types import MappingProxyType

from .. import cachefiles
from ..errors import GdlRuntimeError
from .hostmem import HostPool

ENV_VAR = "GDL_DEVICE"
MEMORY_ENV = "GDL_MEMORY_LIMIT"     # caps the device memory gdl uses (bytes, or 512MiB, 2GB...)
UNITS = MappingProxyType({
    "": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000 ** 2, "mb": 1000 ** 2,
    "mib": 1024 ** 2, "g": 1000 ** 3, "gb": 1000 ** 3, "gib": 1024 ** 3,
    "t": 1000 ** 4, "tb": 1000 ** 4, "tib": 1024 ** 4})


class KernelBuildError(RuntimeError):
    """The device's compiler rejected kernels gdl generated: an internal error."""

    def __init__(self, device: str, log: str, path: str | None):
        saved = f"the source is saved in {path}" if path else "the source could not be saved"
        super().__init__(f"gdl generated OpenCL that {device} rejected (a gdl bug; {saved})\n"
                         f"build log:\n{log.strip()}")
        self.log = log
        self.path = path


def save_source(source: str) -> str | None:
    """The rejected program in a file of its own, for the bug report (None if unwritable)."""
    import tempfile
    try:
        fd, path = tempfile.mkstemp(prefix="gdl-kernel-", suffix=".cl")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
    except OSError:
        return None
    return path


def parse_bytes(text: str) -> int:
    """`123`, `512MiB`, `2 GB` as bytes; anything else is a clear error."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in UNITS:
        raise GdlRuntimeError(f"{MEMORY_ENV}={text!r} is not an amount of memory: expected a "
                              "number of bytes, optionally with a unit (e.g. 512MiB, 2GB)")
    return int(float(m.group(1)) * UNITS[m.group(2).lower()])


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB': sizes in messages."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


@dataclass
class Counters:
    """What the runtime did: launches, bytes moved, blocking reads, kernel builds.

    All but `peak_device_bytes` count up; that one is a high-water mark of the
    memory gdl holds on the device (pooled buffers in use plus result blocks
    still alive), restarted by `mark_peak` at the start of each run.
    """

    launches: int = 0
    bytes_to_device: int = 0
    bytes_from_device: int = 0
    bytes_on_device: int = 0
    blocking_reads: int = 0
    kernel_builds: int = 0
    peak_device_bytes: int = 0

    def snapshot(self) -> dict[str, int]:
        return dict(self.__dict__)

    def since(self, before: dict[str, int]) -> dict[str, int]:
        """The counts since `before`, and the peak as it stands."""
        return {k: v if k == "peak_device_bytes" else v - before.get(k, 0)
                for k, v in self.__dict__.items()}


# PoCL's drivers for the CPU: "pthread" spreads each kernel over the cores;
# "basic" runs it on the calling thread, ~2 us a launch and read where
# pthread's wake-up costs ~80 us.  gdl asks for both (unless POCL_DEVICES says
# otherwise) and runs small programs on basic: see `Device.for_size`.
POCL_DRIVERS = "pthread basic"
SMALL_ELEMENTS = 1 << 16      # a program whose tensors are all this small runs single-threaded


def _cl():
    os.environ.setdefault("POCL_DEVICES", POCL_DRIVERS)   # read once, when PoCL starts
    import pyopencl  # imported lazily: `gdl check` and `gdl graph` never need it
    return pyopencl


def _vendors_hidden() -> bool:
    """Whether OCL_ICD_VENDORS asks for no OpenCL vendors at all.

    Set to an empty value, or to a path holding no `.icd` file, it names no
    driver; pyopencl's bundled loader would still find its own PoCL, so gdl
    honours the setting itself (it is how one runs "with no device").
    """
    vendors = os.environ.get("OCL_ICD_VENDORS")
    if vendors is None:
        return False
    if not vendors.strip():
        return True
    if os.path.isdir(vendors):
        return not any(name.endswith(".icd") for name in os.listdir(vendors))
    return not os.path.exists(vendors)


def list_devices() -> list[tuple[int, int, object]]:
    """Every OpenCL device as (platform index, device index, device); [] if none."""
    if _vendors_hidden():
        return []
    cl = _cl()
    try:
        platforms = cl.get_platforms()
    except cl.Error:
        return []
    found = []
    for pi, p in enumerate(platforms):
        try:
            devices = p.get_devices()
        except cl.Error:
            continue
        found.extend((pi, di, d) for di, d in enumerate(devices))
    return found


def _kind(d) -> str:
    cl = _cl()
    if d.type & cl.device_type.GPU:
        return "gpu"
    if d.type & cl.device_type.CPU:
        return "cpu"
    return "accelerator"


def _single_threaded(d) -> bool:
    """PoCL's basic CPU driver: quick to launch, one core."""
    return d.name.strip().lower().startswith("basic")


def _pick(found, spec: str | None):
    """The device matching `spec` ("gpu", "cpu", "P:D", or part of a name); None: default.

    By kind, a multi-threaded CPU device comes before PoCL's single-threaded
    one (which small programs use on their own, see `Device.for_size`).
    """
    found = sorted(found, key=lambda e: _single_threaded(e[2]))
    if not spec:
        for kind in ("gpu", "cpu"):
            for entry in found:
                if _kind(entry[2]) == kind:
                    return entry, f"the first {kind.upper()} (default: a GPU if present, else a CPU)"
        return found[0], "the first device"
    s = spec.strip().lower()
    if s in ("gpu", "cpu"):
        for entry in found:
            if _kind(entry[2]) == s:
                return entry, f"asked for a {s.upper()}"
        raise GdlRuntimeError(f"no {s.upper()} OpenCL device found (asked for `{spec}`); "
                              f"present: {_names(found)}")
    if ":" in s and all(part.isdigit() for part in s.split(":", 1)):
        pi, di = (int(x) for x in s.split(":", 1))
        for entry in found:
            if entry[0] == pi and entry[1] == di:
                return entry, f"asked for device {spec}"
        raise GdlRuntimeError(f"no OpenCL device {spec} (platform:device); present: "
                              f"{_names(found)}")
    for entry in found:
        text = f"{entry[2].platform.name} {entry[2].name}".lower()
        if s in text:
            return entry, f"its name matches `{spec}`"
    raise GdlRuntimeError(f"no OpenCL device matches `{spec}`; present: {_names(found)}")


def _names(found) -> str:
    return ", ".join(f"{p}:{d} {dev.name.strip()} ({dev.platform.name.strip()})"
                     for p, d, dev in found) or "none"


@dataclass
class Device:
    """One OpenCL device with its context, queue, program cache and counters."""

    cl_device: object
    why: str = ""
    counters: Counters = field(default_factory=Counters)
    by_size: bool = False       # chosen by kind: small programs may use a quicker sibling

    def __post_init__(self):
        cl = _cl()
        self.context = cl.Context([self.cl_device])
        self.queue = cl.CommandQueue(self.context)
        self._programs: dict[tuple[str, str], object] = {}
        self._kernels: dict[tuple[int, str], object] = {}
        self._pool = None
        self.host_pool = HostPool(self._host_buffer, self.note_memory)   # host memory results land in (CPU)
        self.kind = _kind(self.cl_device)
        self.description = f"{self.name} ({self.platform}, {self.kind.upper()})"
        self._small: Device | None | bool = False      # False: not looked for yet
        self._limits()

    def for_size(self, elements: int) -> "Device":
        """The device to run a program whose largest tensor has `elements` on.

        A small program on PoCL's multi-threaded CPU device spends nearly all
        its time waking threads; PoCL's basic device on the same CPU launches
        and reads back in microseconds.  Only for a device chosen by kind
        (the default, or "cpu"): a device named explicitly is used as named.
        """
        if not self.by_size or elements > SMALL_ELEMENTS:
            return self
        if self._small is False:
            self._small = None
            if self.kind == "cpu" and not _single_threaded(self.cl_device):
                for _, _, d in list_devices():
                    if _single_threaded(d) and d.platform == self.cl_device.platform:
                        self._small = Device(d, f"{self.why}; a small program: its "
                                                "single-threaded sibling, quicker to launch")
                        break
        return self._small or self

    # -- description
    @property
    def name(self) -> str:
        return self.cl_device.name.strip()

    @property
    def platform(self) -> str:
        return self.cl_device.platform.name.strip()


    @property
    def has_fp64(self) -> bool:
        return "cl_khr_fp64" in self.cl_device.extensions or bool(
            getattr(self.cl_device, "double_fp_config", 0))

    def describe(self) -> str:
        return self.description

    # -- programs
    def build_options(self) -> list[str]:
        cl = _cl()
        opts = []
        if self.cl_device.single_fp_config & cl.device_fp_config.CORRECTLY_ROUNDED_DIVIDE_SQRT:
            opts.append("-cl-fp32-correctly-rounded-divide-sqrt")
        return opts

    def program(self, source: str):
        """The built program for `source`, built once per device (counted).

        A new program comes from the disk cache's binary when there is one,
        else from the source.  A binary is stored only for source built
        before (by an earlier Device, usually in an earlier process):
        fetching it makes PoCL compile every kernel once more (~150 ms),
        worth it for programs that recur (a script run again, `gdl run` on
        one file) but not for one-off ones.
        """
        options = self.build_options()
        key = (source, " ".join(options))
        prog = self._programs.get(key)
        if prog is None:
            entry = self._binary_entry(source, key[1])
            prog = self._from_binary(entry, options)
            if prog is None:
                prog = self._from_source(source, options)
                if cachefiles.seen_before("kernels", entry):
                    self._store_binary(entry, prog)
            self.counters.kernel_builds += 1
            self._programs[key] = prog
        return prog

    def _binary_entry(self, source: str, options: str) -> str:
        """The disk-cache name of a program's binary: whatever the binary depends on."""
        d = self.cl_device
        return cachefiles.key("gdl-kernel-v1", source, options, d.platform.name,
                              d.platform.version, d.name, d.vendor, d.version,
                              d.driver_version)

    def _from_source(self, source: str, options: list[str]):
        """Compile `source`; a compiler error is a gdl bug (never a GdlError): it
        carries the build log and the path where the rejected source is saved."""
        cl = _cl()
        try:
            with warnings.catch_warnings():
                # Compiler remarks on generated code are gdl's business, not the user's.
                warnings.simplefilter("ignore", cl.CompilerWarning)
                return cl.Program(self.context, source).build(options=options)
        except cl.RuntimeError as err:
            raise KernelBuildError(self.name, str(err), save_source(source)) from err

    def _from_binary(self, entry: str, options: list[str]):
        """The program from a cached binary, or None (none cached, or the driver refuses it)."""
        binary = cachefiles.read("kernels", entry + ".bin")
        if not binary:
            return None
        cl = _cl()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", cl.CompilerWarning)
                return cl.Program(self.context, [self.cl_device], [binary]).build(
                    options=options)
        except cl.Error:
            return None     # corrupt or stale: rebuilt from source and stored again

    def _store_binary(self, entry: str, prog) -> None:
        """Keep a built program's device binary in the disk cache (best effort)."""
        cl = _cl()
        try:
            binary = prog.get_info(cl.program_info.BINARIES)[0]
        except cl.Error:
            return
        if binary:
            cachefiles.write("kernels", entry + ".bin", bytes(binary))

    def kernel(self, program, name: str):
        """The kernel `name` of a built program, fetched once (pyopencl warns on repeats)."""
        key = (id(program), name)
        k = self._kernels.get(key)
        if k is None:
            k = self._kernels[key] = getattr(program, name)
        return k

    # -- memory
    def _host_buffer(self, block):
        """A device buffer using `block`'s host memory (a CPU device writes there)."""
        cl = _cl()
        return cl.Buffer(self.context, cl.mem_flags.READ_WRITE | cl.mem_flags.USE_HOST_PTR,
                         hostbuf=block)

    # -- limits
    def _limits(self) -> None:
        """Bytes gdl may hold on the device (its global memory, or less by MEMORY_ENV),
        and the largest single buffer it allows (CL_DEVICE_MAX_MEM_ALLOC_SIZE)."""
        limit = int(self.cl_device.global_mem_size)
        asked = os.environ.get(MEMORY_ENV, "").strip()
        if asked:
            limit = min(limit, parse_bytes(asked))
        self.memory_limit = limit
        self.buffer_limit = min(int(self.cl_device.max_mem_alloc_size), limit)

    def room(self) -> int:
        """Bytes that may still be allocated before the memory limit."""
        return self.memory_limit - self.bytes_in_use()

    def reserve(self, nbytes: int, what=None) -> None:
        """Refuse an allocation the device cannot hold, before making it.

        PoCL (and other drivers) allocate lazily: an oversized buffer would
        fail later, in the middle of a run, with a bare driver error.
        `what()` gives (description, span) of the value for the message.
        """
        if nbytes <= self.buffer_limit and nbytes <= self.room():
            return
        desc, span = what() if what is not None else ("a buffer", None)
        if nbytes > self.buffer_limit:
            why = (f"more than {self.name} allows in one buffer "
                   f"({human_bytes(self.buffer_limit)})")
        else:
            why = (f"more than is left of the {human_bytes(self.memory_limit)} gdl may use on "
                   f"{self.name} ({human_bytes(self.bytes_in_use())} already in use)")
        raise GdlRuntimeError(f"{desc} needs {human_bytes(nbytes)} of device memory, {why}",
                              span, (f"set {MEMORY_ENV} (e.g. 2GiB) to choose the limit; "
                                     "smaller inputs or fewer loop iterations need less",))

    def allocate(self, nbytes: int, what=None):
        """A device buffer of at least `nbytes` from the pool (freed buffers are reused)."""
        self.reserve(nbytes, what)
        if self._pool is None:
            cl = _cl()
            from pyopencl.tools import ImmediateAllocator, MemoryPool
            self._pool = MemoryPool(ImmediateAllocator(self.queue, cl.mem_flags.READ_WRITE))
        buf = self._pool.allocate(max(nbytes, 4))
        self.note_memory()
        return buf

    def bytes_in_use(self) -> int:
        """Device memory gdl holds now: pooled buffers in use and live result blocks."""
        pooled = self._pool.active_bytes if self._pool is not None else 0
        return pooled + self.host_pool.live_bytes

    def note_memory(self) -> None:
        """Raise the peak counter to the memory in use now (after every allocation)."""
        c = self.counters
        c.peak_device_bytes = max(c.peak_device_bytes, self.bytes_in_use())

    def mark_peak(self) -> None:
        """Start a new high-water mark from what is held now (at the start of a run)."""
        self.counters.peak_device_bytes = self.bytes_in_use()


def select(spec: str | None = None) -> Device:
    """The device to run on: `spec`, else $GDL_DEVICE, else a GPU, else a CPU."""
    found = list_devices()
    if not found:
        raise GdlRuntimeError(
            "no OpenCL device found: gdl runs only on OpenCL (there is no NumPy fallback). "
            "Install an OpenCL driver, or `pip install pocl-binary-distribution` for the CPU "
            "device; check OCL_ICD_VENDORS if it points somewhere empty")
    from_env = spec is None and bool(os.environ.get(ENV_VAR))
    if spec is None:
        spec = os.environ.get(ENV_VAR) or None
    try:
        entry, why = _pick(found, spec)
    except GdlRuntimeError as err:
        if not from_env:
            raise
        # The user may not remember setting it: say where the bad choice came from.
        raise GdlRuntimeError(err.message, err.span, err.notes + (
            f"the device was chosen by {ENV_VAR}={spec}; set it to gpu, cpu, P:D or part "
            "of a device name, or unset it",)) from None
    return Device(entry[2], why, by_size=spec is None or spec.strip().lower() == "cpu")


def describe_all() -> list[dict]:
    """Every device with its index and kind, for `gdl devices`."""
    return [{"index": f"{p}:{d}", "name": dev.name.strip(), "platform": dev.platform.name.strip(),
             "kind": _kind(dev)} for p, d, dev in list_devices()]
