"""`python -m harness <command>`: main() parses, typed _main() does the work (tests call it)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from datetime import datetime
from pathlib import Path

from harness.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_REGRESSION,
    ConfigError,
    GilbenchError,
    Interrupted,
    RunLocked,
)
from harness.measure.progress import Display, result_line
from harness.measure.session import CompareOptions, compare
from harness.store import layout
from harness.store.results import RESULTS_FILE
from harness.vocabulary import DEFAULT_BASELINE

ROOT = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="gilbench: how Python runtimes behave under threads and processes, measured.",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="project root (default: here)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and results")
    commands = parser.add_subparsers(dest="command", required=True)

    runtimes = commands.add_parser("runtimes", help="list runtimes, image status and probes")
    runtimes.add_argument("--json", action="store_true", help="machine-readable output")

    images = commands.add_parser("images", help="build missing or outdated runtime images")
    images.add_argument("--runtimes", default="", help="space/comma separated runtime ids")

    for name, helptext in (
        ("compare", "build what is missing, run a suite, write results and the report"),
        ("nightly", "compare with the nightly suite, then update the history"),
        ("stability", "run a suite several times and compare verdicts and cell drift"),
    ):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--suite", default="nightly" if name == "nightly" else "default")
        sub.add_argument("--runtimes", default="", help="space/comma separated runtime ids")
        sub.add_argument("--backend", choices=("docker", "local"), default="docker")
        sub.add_argument(
            "--local",
            action="append",
            default=[],
            metavar="NAME=COMMAND",
            help="host interpreter for --backend local (repeatable)",
        )
        sub.add_argument("--cpuset", help="CPUs to pin containers to (default: all)")
        sub.add_argument("--reports", type=Path, default=None, help="reports folder")
        sub.add_argument("--no-build", action="store_true", help="never build images")
        sub.add_argument(
            "--wait-lock",
            action="store_true",
            help="wait for a run holding the reports folder instead of refusing "
            f"(refusing exits {EXIT_LOCKED})",
        )
        sub.add_argument(
            "--baseline", default=DEFAULT_BASELINE, help="runtime to compare against"
        )
        if name == "compare":
            sub.add_argument("--resume", metavar="RUN_ID", help="finish an interrupted run")
        elif name == "stability":
            sub.add_argument("--runs", type=int, default=2, help="how many runs (>= 2)")
        else:
            sub.add_argument(
                "--fail-on-regression",
                action="store_true",
                help=f"exit {EXIT_REGRESSION} when a regression is flagged",
            )

    report = commands.add_parser("report", help="regenerate a run's report from its raw files")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--baseline", default=None)

    history = commands.add_parser("history", help="rebuild reports/history.md from run folders")
    history.add_argument("--reports", type=Path, default=None, help="reports folder")
    history.add_argument(
        "--suite",
        default="nightly",
        help="which runs are nights (meta suite.name); 'all' for every suite",
    )
    history.add_argument(
        "--fail-on-regression",
        action="store_true",
        help=f"exit {EXIT_REGRESSION} when a plain regression is flagged",
    )
    history.add_argument(
        "--no-charts", action="store_true", help="write history.md and history.json only"
    )
    history.add_argument(
        "--now",
        type=_utc_time,
        default=None,
        metavar="ISO_TIME",
        help="judge overdue nights as of this UTC time (default: now; for reproducible pages)",
    )

    export = commands.add_parser(
        "export", help="write a run's results for other tools (pyperf, github-action-benchmark)"
    )
    export.add_argument("run_dir", type=Path)
    export.add_argument("--pyperf", type=Path, help="pyperf JSON (default: RUN_DIR/pyperf.json)")
    export.add_argument(
        "--benchmark-action",
        type=Path,
        help="customSmallerIsBetter JSON (default: RUN_DIR/benchmark-action.json)",
    )

    clean = commands.add_parser(
        "clean",
        help="remove containers whose run is gone (and, with --images, every gilbench image); "
        "measurements are never removed",
    )
    clean.add_argument("--images", action="store_true", help="also remove gilbench images")
    return parser


def _utc_time(text: str) -> datetime:
    from harness.analyse.nights import parse_time

    moment = parse_time(text)
    if moment is None:
        raise argparse.ArgumentTypeError(f"expected an ISO time (2026-11-25T06:00:00Z): {text!r}")
    return moment


def _ids(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.replace(",", " ").split() if part)


def _main(args: argparse.Namespace, display: Display) -> int:
    root: Path = args.root
    reports = getattr(args, "reports", None) or root / "reports"
    if args.command == "runtimes":
        return _runtimes(root, args.json)
    if args.command == "images":
        return _images(root, _ids(args.runtimes), display)
    if args.command in ("compare", "nightly", "stability"):
        options = CompareOptions(
            suite=args.suite,
            runtimes=_ids(args.runtimes),
            backend=args.backend,
            local=tuple(args.local),
            cpuset=args.cpuset,
            reports_dir=reports,
            resume=getattr(args, "resume", None),
            build=not args.no_build,
            baseline=args.baseline,
            wait_lock=args.wait_lock,
            command=os.environ.get("GILBENCH_COMMAND")
            or "python -m harness " + shlex.join(sys.argv[1:]),
        )
        if args.command == "stability":
            return _stability(root, options, reports, args.baseline, args.runs, display)
        if args.command == "nightly":
            # the history is rebuilt even when the night fails or is interrupted: it shows so
            try:
                _compare_and_report(root, options, reports, args.baseline, display)
            finally:
                history_status = _history(reports, args.fail_on_regression, args.suite, True, None)
            return history_status
        _compare_and_report(root, options, reports, args.baseline, display)
        return 0
    if args.command == "report":
        result_line(str(_report(args.run_dir, args.run_dir.parent.parent, args.baseline)))
        return 0
    if args.command == "history":
        suite = None if args.suite == "all" else args.suite
        return _history(reports, args.fail_on_regression, suite, not args.no_charts, args.now)
    if args.command == "export":
        return _export(args.run_dir, args.pyperf, args.benchmark_action)
    if args.command == "clean":
        return _clean(args.images, display)
    raise AssertionError(args.command)


def _compare_and_report(
    root: Path, options: CompareOptions, reports: Path, baseline: str, display: Display
) -> None:
    run_dir = compare(root, options, display)
    report_path = _report(run_dir, reports, baseline)
    display.info(f"raw results: {run_dir / RESULTS_FILE}")
    result_line(str(report_path))


def _stability(
    root: Path,
    options: CompareOptions,
    reports: Path,
    baseline: str,
    runs: int,
    display: Display,
) -> int:
    """Run the same comparison ``runs`` times, then compare each run with the first."""
    from harness.analyse.run import analyse
    from harness.publish.stability import compare_runs

    if runs < 2:
        raise ConfigError(f"--runs: expected at least 2 runs to compare, got {runs}")
    folders = []
    for index in range(runs):
        display.info(f"stability: run {index + 1} of {runs}")
        folders.append(compare(root, options, display))
        _report(folders[-1], reports, baseline)
    first = analyse(folders[0], baseline)
    for folder in folders[1:]:
        agreement = compare_runs(first, analyse(folder, baseline))
        result_line(f"{folders[0].name} vs {folder.name}:")
        for line in agreement.lines():
            result_line(line)
    return 0


def _report(run_dir: Path, reports: Path, baseline: str | None) -> Path:
    from harness.publish.report import write_latest, write_report

    path = write_report(run_dir, baseline=baseline)
    if layout.runs_dir(reports).resolve() == run_dir.resolve().parent:
        write_latest(run_dir, reports)
    return path


def _history(
    reports: Path,
    fail_on_regression: bool,
    suite: str | None,
    charts: bool,
    now: datetime | None,
) -> int:
    from harness.nightly import exit_code, summary_line, write_history

    result = write_history(reports, suite=suite, charts=charts, now=now)
    print(summary_line(result), file=sys.stderr)
    result_line(str(result.path))
    if result.failing:
        print(
            f"{len(result.failing)} regression(s) flagged, see {result.path}", file=sys.stderr
        )
    return exit_code(result, fail_on_regression)


def _runtimes(root: Path, as_json: bool) -> int:
    from harness.measure.status import runtime_rows
    from harness.publish.runtime_table import render_rows

    rows = runtime_rows(root)
    if as_json:
        result_line(json.dumps(rows, indent=2, sort_keys=True))
    else:
        result_line(render_rows(rows))
    return 0


def _images(root: Path, wanted: tuple[str, ...], display: Display) -> int:
    from harness.measure.backends.docker import DockerBackend
    from harness.measure.images import ensure_images
    from harness.measure.runtimes import load_registry, select

    runtimes = select(load_registry(root), list(wanted), "RUNTIMES/--runtimes")
    statuses = ensure_images(DockerBackend(), root, runtimes, display.info, display.build_line)
    built = [s.runtime_id for s in statuses.values() if s.action == "built"]
    rejected = [s for s in statuses.values() if s.state in ("failed", "unavailable")]
    if not built and not rejected:
        display.info("nothing to build: every image is up to date with its recipe")
    for status in rejected:
        display.warn(f"{status.runtime_id} {status.state}: {str(status.reason).splitlines()[0]}")
    # a build that failed is an error; so is a runtime the user named that cannot be had
    failed = [s for s in rejected if s.state == "failed" or (wanted and s.state == "unavailable")]
    return 1 if failed else 0


def _export(run_dir: Path, pyperf: Path | None, benchmark_action: Path | None) -> int:
    from dataclasses import asdict

    from harness.publish.exports import write_benchmark_action, write_pyperf
    from harness.store.results import read_meta, read_records

    records = [asdict(r) for r in read_records(run_dir)]
    meta = read_meta(run_dir).to_dict()
    for writer, path in (
        (write_pyperf, pyperf or run_dir / "pyperf.json"),
        (write_benchmark_action, benchmark_action or run_dir / "benchmark-action.json"),
    ):
        export = writer(path, records, meta)
        if export.skipped:
            print(f"{path}: left out (no usable value): {', '.join(export.skipped)}",
                  file=sys.stderr)
        result_line(str(path))
    return 0


def _clean(images: bool, display: Display) -> int:
    from harness.measure.backends.docker import DockerBackend

    backend = DockerBackend()
    removed = backend.sweep()
    display.info(f"removed {removed} harness container(s)")
    if images:
        for ref in backend.managed_images():
            backend.remove_image(ref)
            display.info(f"removed image {ref}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: one clear line on errors, 130 on Ctrl-C with the resume command."""
    args = _parser().parse_args(argv)
    display = Display(quiet=args.quiet)
    try:
        return _main(args, display)
    except Interrupted as exc:
        display.warn(str(exc))
        return EXIT_INTERRUPTED
    except RunLocked as exc:
        print(f"gilbench: error: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except KeyboardInterrupt:
        display.warn("interrupted")
        return EXIT_INTERRUPTED
    except GilbenchError as exc:
        print(f"gilbench: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
