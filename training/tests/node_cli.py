"""Runs the engine's command line (`node dist/cli.js`) from the Python tests, building it first when the
bundle is missing or older than the TypeScript sources."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "dist" / "cli.js"


def ensure_cli() -> Path:
    if not (ROOT / "node_modules" / "onnxruntime-node").is_dir():
        pytest.fail(f"{ROOT / 'node_modules'} is missing: run `npm ci` in {ROOT} first (the engine runs on Node)")
    newest = max(p.stat().st_mtime for p in (ROOT / "src").rglob("*.ts"))
    if not CLI.is_file() or CLI.stat().st_mtime < newest:
        build = subprocess.run(["npm", "run", "build"], cwd=ROOT, capture_output=True, text=True)
        if build.returncode != 0:
            pytest.fail(f"`npm run build` failed:\n{build.stdout[-2000:]}\n{build.stderr[-2000:]}")
    return CLI


def run_verify(package: Path, cases: Path | None = None, tolerance: float | None = None) -> dict:
    """`chimera verify --json` on the CPU; returns its report (exit code 1 only means a mismatch)."""
    args = ["node", str(ensure_cli()), "verify", "--model", str(package), "--device", "cpu", "--json"]
    if cases is not None:
        args += ["--cases", str(cases)]
    if tolerance is not None:
        args += ["--tolerance", str(tolerance)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if out.returncode not in (0, 1) or not out.stdout.strip():
        pytest.fail(f"chimera verify failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout)
