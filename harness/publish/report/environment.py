"""The run's environment (host, engine, images, suite) and how to reproduce it."""

from __future__ import annotations

import json

from harness.analyse.run import Analysis
from harness.publish import markdown as f
from harness.publish.report.cells import table


def environment(a: Analysis) -> str:
    meta = a.meta
    written = meta.to_dict()
    host = written["host"]
    docker = written["docker"] or {}
    items = [
        ("host", ", ".join(f"{k}: {host[k]}" for k in sorted(host)) or f.DASH),
        ("docker", ", ".join(f"{k}: {docker[k]}" for k in sorted(docker)) or f.DASH),
        ("backend", meta.backend or f.DASH),
        (
            "cpuset / CPUs / memory",
            f"{written.get('cpuset', f.DASH)} / {written.get('cpus', f.DASH)} / "
            f"{written.get('memory_limit', f.DASH)}",
        ),
        ("harness revision", f"`{written.get('harness_revision', '?')}`"),
        ("started / finished", f"{written.get('started_at')} / {written.get('finished_at')}"),
        (
            "wall total / in timed regions",
            f"{f.seconds(meta.wall_total_s)} / {f.seconds(meta.workload_wall_s)}",
        ),
        ("baseline", f"`{a.baseline}`"),
        ("records", f"{len(a.df)} in {len(a.cells)} cells"),
    ]
    rows = []
    for rid, entry in sorted(meta.runtimes.items()):
        rows.append(
            [
                rid,
                entry.image or f.DASH,
                f"`{entry.image_id or '—'}`",
                f"`{entry.recipe_hash or '—'}`",
                c_libraries((entry.probe or {}).get("c_libraries")),
            ]
        )
    suite = json.dumps(meta.suite or {}, indent=2, sort_keys=True, ensure_ascii=False)
    parts = [
        "## Environment",
        "\n".join(f"- **{k}**: {val}" for k, val in items),
    ]
    if rows:
        headers = ["runtime", "image", "image id", "recipe hash", "C libraries (probed)"]
        parts.append(table(rows, headers))
    parts.append(
        "<details><summary>Suite as run</summary>\n\n```json\n" + suite + "\n```\n\n</details>"
    )
    return "\n\n".join(parts)


def reproduce(a: Analysis) -> str:
    command = a.meta.command or "(the command was not recorded in meta.json)"
    run_id = a.meta.run_id or a.run_dir.name
    return (
        "## Reproduce\n\n"
        "Measure again (same suite and runtimes):\n\n"
        f"```sh\n{command}\n```\n\n"
        "Regenerate this report, byte for byte, from the raw files of this run:\n\n"
        f"```sh\npython -m harness report reports/runs/{run_id}\n```"
    )


def c_libraries(found: dict | None) -> str:
    """What the C-library workloads ran on, e.g. ``sha256 _hashlib.HASH (OpenSSL 3.0), ...``."""
    if not found:
        return f.DASH
    parts = [f"sha256 {found.get('sha256') or '?'}"]
    if found.get("openssl"):
        parts[0] += f" ({found['openssl']})"
    if found.get("zlib"):
        parts.append(f"zlib {found['zlib']}")
    numpy = found.get("numpy")
    parts.append(f"numpy {numpy}" + (f" ({found['blas']})" if found.get("blas") else "")
                 if numpy else "no numpy")
    return ", ".join(parts)
