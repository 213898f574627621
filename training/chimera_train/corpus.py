"""Build a permissively licensed code corpus from what a fresh machine of this kind already has.

Sources (each file is attributed to a package with a licence we checked):
- the CPython standard library of the running interpreter (PSF-2.0);
- Python packages in site-packages whose metadata declares a permissive licence;
- npm packages in the project's node_modules and the global npm install, by their package.json licence.

Files are filtered (generated, minified or binary-looking text is dropped), deduplicated by content,
and split into train and validation by a stable hash of their corpus path, so the split never changes
when sources are added.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

PERMISSIVE = (
    "MIT", "ISC", "APACHE", "BSD", "0BSD", "PSF", "PYTHON-2.0", "UNLICENSE", "CC0", "ZLIB", "BLUEOAK",
)
# Licence texts we refuse even when a permissive one appears alongside with AND.
COPYLEFT = ("GPL", "LGPL", "AGPL", "MPL", "EPL", "CC-BY-SA", "SSPL", "ARTISTIC")

LANG_BY_EXT = {
    ".py": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "typescript",
}

MAX_FILE_BYTES = 10_000_000
CHUNK_BYTES = 120_000
# One big package (the stdlib aside) must not crowd out the rest of its language.
MAX_PACKAGE_BYTES = 6_000_000
MIN_FILE_BYTES = 200
VAL_PERCENT = 3


@dataclass
class SourcePackage:
    """A unit of licensing: one package directory whose files share a licence."""

    source: str  # e.g. "cpython-stdlib", "npm", "pypi"
    name: str
    version: str
    license: str
    root: Path
    files: list[Path] = field(default_factory=list)


def is_permissive(license_text: str) -> bool:
    text = license_text.upper()
    if not text.strip():
        return False
    if " OR " in text:  # a disjunction is fine when any branch is permissive
        return any(is_permissive(part) for part in text.replace("(", "").replace(")", "").split(" OR "))
    if any(bad in text for bad in COPYLEFT):
        return False
    # word boundaries: npm's "UNLICENSED" means proprietary, unlike "Unlicense"
    return any(re.search(rf"\b{re.escape(ok)}\b", text) for ok in PERMISSIVE)


def looks_generated(text: str) -> bool:
    """Minified bundles, source maps and data blobs teach the model nothing about writing code."""
    lines = text.splitlines()
    if not lines:
        return True
    longest = max(len(line) for line in lines)
    mean = len(text) / len(lines)
    if longest > 1000 or mean > 100:
        return True
    if "\x00" in text:
        return True
    head = text[:2000]
    if "sourceMappingURL=data:" in text or re.search(r"@generated|DO NOT EDIT|auto-generated", head, re.I):
        return True
    alnum = sum(ch.isalnum() for ch in text[:20000])
    return alnum < 0.3 * min(len(text), 20000)


def code_files(root: Path, skip_dirs: set[str]) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.endswith(".min.js") or name.endswith(".map"):
                continue
            if path.suffix in LANG_BY_EXT:
                yield path


def language_of(path: Path) -> str:
    return LANG_BY_EXT[path.suffix]


def stdlib_package() -> SourcePackage:
    root = Path(sysconfig.get_paths()["stdlib"])
    pkg = SourcePackage("cpython-stdlib", "cpython", sys.version.split()[0], "PSF-2.0", root)
    # The regression-test suite is mostly fixtures and edge cases; the library itself is the better teacher.
    skip = {"site-packages", "__pycache__", "idlelib", "lib2to3", "test", "tests"}
    pkg.files = [p for p in code_files(root, skip) if p.suffix == ".py"]
    return pkg


def _pypi_license(metadata: str) -> str:
    fields = re.findall(r"^License-Expression: (.*)$", metadata, re.M)
    fields += re.findall(r"^License: (.*)$", metadata, re.M)[:1]
    fields += re.findall(r"^Classifier: License :: OSI Approved :: (.*)$", metadata, re.M)
    return " AND ".join(f.strip() for f in fields if f.strip()) or ""


def python_site_dirs() -> list[Path]:
    """The interpreter's own site-packages and, when running in a venv, the venv's."""
    dirs = [Path(sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})["purelib"]),
            Path(sysconfig.get_paths()["purelib"])]
    unique = []
    for d in dirs:
        if d.is_dir() and d not in unique:
            unique.append(d)
    return unique


def site_packages(site: Path) -> Iterator[SourcePackage]:
    for dist in sorted(site.glob("*.dist-info")):
        meta_path = dist / "METADATA"
        record = dist / "RECORD"
        if not meta_path.is_file() or not record.is_file():
            continue
        meta = meta_path.read_text(errors="ignore")
        lic = _pypi_license(meta)
        if not is_permissive(lic):
            continue
        name = (re.findall(r"^Name: (.*)$", meta, re.M) or [dist.name])[0].strip()
        version = (re.findall(r"^Version: (.*)$", meta, re.M) or ["?"])[0].strip()
        pkg = SourcePackage("pypi", name, version, lic, site)
        for line in record.read_text(errors="ignore").splitlines():
            rel = line.split(",")[0]
            if rel.endswith(".py") and not rel.startswith(".."):
                pkg.files.append(site / rel)
        if pkg.files:
            yield pkg


def _npm_license(manifest: dict) -> str:
    lic = manifest.get("license") or manifest.get("licenses") or ""
    if isinstance(lic, dict):
        lic = lic.get("type", "")
    if isinstance(lic, list):
        lic = " OR ".join(x.get("type", "") if isinstance(x, dict) else str(x) for x in lic)
    return str(lic)


def npm_packages(node_modules: Path) -> Iterator[SourcePackage]:
    """Every package directory under node_modules, nested ones included, each with its own files."""
    for dirpath, dirnames, filenames in os.walk(node_modules):
        dirnames.sort()
        if "package.json" not in filenames or Path(dirpath) == node_modules:
            continue
        parent = Path(dirpath).parent
        if parent.name != "node_modules" and not (parent.name.startswith("@") and parent.parent.name == "node_modules"):
            continue
        try:
            manifest = json.loads((Path(dirpath) / "package.json").read_text())
        except (OSError, ValueError):
            continue
        lic = _npm_license(manifest)
        if not is_permissive(lic):
            continue
        root = Path(dirpath)
        pkg = SourcePackage("npm", str(manifest.get("name", root.name)), str(manifest.get("version", "?")), lic, root)
        pkg.files = list(code_files(root, {"node_modules", "__pycache__", "test", "tests", "__tests__", "fixtures"}))
        if pkg.files:
            yield pkg


def default_packages(node_modules_dirs: list[Path]) -> list[SourcePackage]:
    """The stdlib first (always whole), then every other package in a stable pseudo-random order, so the
    per-language caps sample across many packages instead of filling up alphabetically."""
    others: list[SourcePackage] = []
    for site in python_site_dirs():
        others.extend(site_packages(site))
    for nm in node_modules_dirs:
        if nm.is_dir():
            others.extend(npm_packages(nm))
    others.sort(key=lambda p: hashlib.sha1(f"{p.source}/{p.name}/{p.version}".encode()).hexdigest())
    return [stdlib_package(), *others]


def split_of(corpus_path: str) -> str:
    digest = hashlib.sha1(corpus_path.encode()).digest()
    return "val" if int.from_bytes(digest[:4], "big") % 100 < VAL_PERCENT else "train"


@dataclass
class BuildStats:
    files: int = 0
    bytes: int = 0
    dropped_generated: int = 0
    dropped_duplicate: int = 0
    dropped_size: int = 0
    dropped_cap: int = 0
    by_lang: dict = field(default_factory=dict)


def build_corpus(out_dir: Path, packages: Iterator[SourcePackage], caps_mb: dict[str, float]) -> BuildStats:
    """Write train.jsonl, val.jsonl and manifest.json under out_dir. caps_mb bounds each language."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = BuildStats()
    seen: set[str] = set()
    manifest: list[dict] = []
    with open(out_dir / "train.jsonl", "w") as train, open(out_dir / "val.jsonl", "w") as val:
        for pkg in packages:
            kept = 0
            start_bytes = stats.bytes
            for path in pkg.files:
                if pkg.source != "cpython-stdlib" and stats.bytes - start_bytes > MAX_PACKAGE_BYTES:
                    stats.dropped_cap += 1
                    continue
                doc = _read_document(path, pkg, seen, stats, caps_mb)
                if doc is None:
                    continue
                sink = val if doc["split"] == "val" else train
                for i, piece in enumerate(split_large(doc["text"])):
                    part = dict(doc, text=piece, part=i)
                    sink.write(json.dumps(part) + "\n")
                kept += 1
            if kept:
                manifest.append({"source": pkg.source, "name": pkg.name, "version": pkg.version,
                                 "license": pkg.license, "files": kept})
    (out_dir / "manifest.json").write_text(json.dumps({
        "stats": stats.__dict__, "packages": manifest,
    }, indent=1))
    return stats


def split_at(text: str, limit: int, separator: str) -> list[str]:
    """Consecutive pieces of at most `limit` characters, each cut after the last `separator` in its
    second half when there is one (else at the limit). The pieces concatenate back to `text`."""
    pieces, start = [], 0
    while start < len(text):
        end = min(len(text), start + limit)
        if end < len(text):
            cut = text.rfind(separator, start + limit // 2, end)
            end = cut + 1 if cut != -1 else end
        pieces.append(text[start:end])
        start = end
    return pieces or [text]


def split_large(text: str, limit: int = CHUNK_BYTES) -> list[str]:
    """Cut a very large file (a compiler bundle, say) into pieces at blank lines near `limit` bytes."""
    return split_at(text, limit, "\n\n")


def _read_document(path: Path, pkg: SourcePackage, seen: set[str], stats: BuildStats,
                   caps_mb: dict[str, float]) -> dict | None:
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if not (MIN_FILE_BYTES <= size <= MAX_FILE_BYTES):
        stats.dropped_size += 1
        return None
    lang = language_of(path)
    used = stats.by_lang.get(lang, 0)
    if used >= caps_mb.get(lang, float("inf")) * 1e6:
        stats.dropped_cap += 1
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if looks_generated(text):
        stats.dropped_generated += 1
        return None
    digest = hashlib.sha1(text.encode()).hexdigest()
    if digest in seen:
        stats.dropped_duplicate += 1
        return None
    seen.add(digest)
    rel = os.path.relpath(path, pkg.root)
    corpus_path = f"{pkg.source}/{pkg.name}/{rel}"
    stats.files += 1
    stats.bytes += len(text)
    stats.by_lang[lang] = used + len(text)
    return {"path": corpus_path, "file": rel, "lang": lang, "license": pkg.license,
            "split": split_of(corpus_path), "text": text}


def read_documents(path: Path) -> Iterator[dict]:
    with open(path) as f:
        for line in f:
            yield json.loads(line)
