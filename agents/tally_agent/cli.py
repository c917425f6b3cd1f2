"""Entry point of `tally-agent`: `run`, `vm`, `parse`, `import`, `install-cron`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from tally_agent import __version__, collect, cron
from tally_agent.config import DEFAULT_CONFIG, Config, ConfigError, load
from tally_agent.context import ParseContext
from tally_agent.lock import BusyError
from tally_agent.output import ndjson_line
from tally_agent.registry import SOURCES, UnrecognisedInputError, check_fields, nothing_recognised
from tally_agent.timeutil import site_zone

if TYPE_CHECKING:
    from tally_agent.runner import Report

# `run`, `import` and `vm` import the runner (and the HTTPS client) when they run: `parse` does
# without, so a one-off parse starts quickly.

EXIT_UNRECOGNISED = 4  # `parse`/`import`: a non-empty input in which nothing was recognised

# Options every command accepts, each overriding the config file's value of the same name.
OVERRIDES = (
    ("--server", str, "server URL (https://...)"),
    ("--api-key", str, "API key (prefer --api-key-file)"),
    ("--api-key-file", str, "file holding the API key"),
    ("--site", str, "site name"),
    ("--resource", str, "resource name"),
    ("--timezone", str, "site time zone of local timestamps in logs (IANA name)"),
    ("--batch-system", str, "slurm, pbs, torque, pbspro, htcondor, sge, uge or lsf"),
    ("--benchmark-type", str, "HEPscore23, HS06 or si2k"),
    ("--benchmark-per-core", float, "benchmark value per core"),
    ("--ca-bundle", str, "CA bundle that verifies the server"),
    ("--client-cert", str, "client certificate (mutual TLS)"),
    ("--client-key", str, "client key (mutual TLS)"),
    ("--spool-dir", str, "spool and state directory"),
    ("--timeout", float, "HTTP timeout in seconds"),
    ("--overlap-seconds", int, "re-read this much before the server's latest record"),
    ("--first-run-days", int, "how far back the first run reads"),
    ("--max-batch-records", int, "records per batch (at most 5000)"),
    ("--max-batch-bytes", int, "uncompressed bytes per batch (at most 4000000)"),
    ("--attempts", int, "posts per batch within one run"),
    ("--retry-delay", float, "base delay between posts of one batch (seconds)"),
    ("--retry-base-seconds", float, "base delay between runs after a failure (seconds)"),
    ("--retry-max-seconds", float, "longest delay between runs after failures (seconds)"),
    ("--state-dir", str, "where the local cursors are kept (default: the spool directory)"),
    ("--gpu", str, "yes or no: send the GPU allocations of the jobs"),
    ("--identity-logs", str, "BLAH/CREAM log files joined onto the jobs (comma separated)"),
    ("--storage-paths", str, "file systems snapshotted by `run` (comma separated)"),
)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c", "--config", help=f"config file (INI or JSON; default {DEFAULT_CONFIG} if present)"
    )
    common.add_argument("-v", "--verbose", action="count", default=0)
    common.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="SOURCE.NAME=VALUE",
        help="a source option, e.g. slurm.sacct=/opt/slurm/bin/sacct or pbs.file=/var/spool/pbs/...",
    )
    for flag, kind, text in OVERRIDES:
        common.add_argument(flag, type=kind, help=text)
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="tally-agent", description="Tally site agent")
    parser.add_argument("--version", action="version", version=f"tally-agent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", parents=[common], help="collect what is new and send it (for cron)")
    run_cmd.add_argument("--force", action="store_true", help="ignore the backoff after failures")
    run_cmd.add_argument("--json", action="store_true", help="print a JSON summary")
    vm_cmd = commands.add_parser(
        "vm", parents=[common], help="inside a VM: sample /proc and send one vms record (for cron)"
    )
    vm_cmd.add_argument("--force", action="store_true", help="ignore the backoff after failures")
    vm_cmd.add_argument("--json", action="store_true", help="print a JSON summary")
    vm_cmd.add_argument(
        "--print", action="store_true", help="print the record this run would send; change and send nothing"
    )
    parse_cmd = commands.add_parser("parse", parents=[common], help="print records as NDJSON, send nothing")
    parse_cmd.add_argument("source", choices=sorted(SOURCES))
    parse_cmd.add_argument("files", nargs="*", help="files to read (default: standard input)")
    parse_cmd.add_argument("--fields", help="sacct --format list of a dump without a header line")
    import_cmd = commands.add_parser("import", parents=[common], help="send history files through the spool")
    import_cmd.add_argument("source", choices=sorted(s for s in SOURCES if SOURCES[s].kind != "identities"))
    import_cmd.add_argument("files", nargs="+")
    import_cmd.add_argument("--fields", help="sacct --format list of a dump without a header line")
    import_cmd.add_argument("--json", action="store_true", help="print a JSON summary")
    cron_cmd = commands.add_parser(
        "install-cron", parents=[common], help="print (or install) the crontab line"
    )
    cron_cmd.add_argument("--install", action="store_true", help="add it to this user's crontab")
    cron_cmd.add_argument("--every", type=int, default=15, help="minutes between runs (default 15)")
    cron_cmd.add_argument(
        "--for", dest="for_command", choices=("run", "vm"), default="run", help="the command cron runs"
    )
    return parser


def _config(args: argparse.Namespace) -> Config:
    overrides: Dict[str, Any] = {
        flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_")) for flag, _, _ in OVERRIDES
    }
    path = args.config
    if path is None:
        from pathlib import Path

        path = DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else None
    config = load(path, overrides)
    for item in args.option:
        name, sep, value = item.partition("=")
        source, dot, option = name.partition(".")
        if not sep or not dot:
            raise ConfigError(f"--option wants SOURCE.NAME=VALUE, got {item!r}")
        config.options.setdefault(source, {})[option] = value
    if getattr(args, "fields", None):
        # The source being parsed takes it (`gpu` hands it to its batch parser); one whose layout
        # is fixed refuses it (registry.check_fields).
        config.options.setdefault(args.source, {})["fields"] = args.fields
    return config


def _parse(config: Config, source: str, files: List[str]) -> int:
    ctx = ParseContext(
        site=config.site or "unknown",
        resource=config.resource or "unknown",
        zone=site_zone(config.timezone),
        benchmark_type=config.benchmark_type or None,
        benchmark_per_core=config.benchmark_per_core,
        options={**config.source_options(source), "batch_system": config.batch_system},
    )
    check_fields(source, ctx.options)
    write = sys.stdout.write
    lines = collect.read_files(files or ["-"])
    parser = SOURCES[source]
    texts = parser.ndjson(lines, ctx) if parser.ndjson else map(ndjson_line, parser.parse(lines, ctx))
    chunk: List[str] = []  # written a few hundred lines at a time: fewer calls into the text layer
    try:
        for text in texts:
            chunk.append(text)
            if len(chunk) >= 256:
                write("".join(chunk))
                chunk.clear()
    finally:  # what was read before a failure is still written
        write("".join(chunk))
        sys.stdout.flush()
    stats = ctx.stats.summary()
    print(f"tally-agent parse {source}: " + " ".join(f"{k}={v}" for k, v in stats.items()), file=sys.stderr)
    for hint in ctx.stats.hints:
        print(f"tally-agent parse {source}: {hint}", file=sys.stderr)
    unrecognised = nothing_recognised(source, lines.content_lines, ctx.stats)
    if unrecognised:
        print(f"tally-agent: {unrecognised}", file=sys.stderr)
        return EXIT_UNRECOGNISED
    return 0 if ctx.stats.errors == 0 else 3


def _summary(command: str, config: Config, report: Report, as_json: bool) -> int:
    """The JSON report with --json, else one line on stdout (cron discards it); hints on stderr."""
    from tally_agent.runner import EXIT_OK, EXIT_PENDING

    if as_json:
        print(json.dumps(report.as_dict(), sort_keys=True))
    else:
        print(report.line(command, config.spool_dir))
    for hint in report.hints:
        print(f"tally-agent {command}: {hint}", file=sys.stderr)
    return EXIT_OK if report.pending_batches == 0 else EXIT_PENDING


def _vm(config: Config, args: argparse.Namespace) -> int:
    from tally_agent.vm import command as vm_command

    if not args.print:
        return _summary("vm", config, vm_command.run(config, force=args.force), args.json)
    measured = vm_command.measure(config)
    if measured.record is not None:
        print(json.dumps(measured.record, separators=(",", ":"), sort_keys=True))
        if measured.note:
            print(f"tally-agent vm --print: {measured.note}", file=sys.stderr)
    else:
        # --print stores nothing, so a first sample stays a first sample: say what a run would do.
        print(
            f"tally-agent vm --print: a run now would send no record ({measured.note or 'no interval'})",
            file=sys.stderr,
        )
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # argparse gives `files` nothing when options sit between SOURCE and the files: take the rest.
    if extra and (args.command not in ("parse", "import") or any(e.startswith("-") for e in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.files = [*args.files, *extra]
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s tally-agent %(levelname)s %(message)s")
    try:
        config = _config(args)
        if args.command == "parse":
            return _parse(config, args.source, args.files)
        if args.command == "run":
            from tally_agent.runner import run

            return _summary("run", config, run(config, force=args.force), args.json)
        if args.command == "import":
            from tally_agent.runner import import_files

            return _summary("import", config, import_files(config, args.source, args.files), args.json)
        if args.command == "vm":
            return _vm(config, args)
        if args.for_command == "vm":
            from tally_agent.vm import cronline as vm_cronline

            line = vm_cronline.cron_line(args.config, args.every)
        else:
            line = cron.cron_line(args.config, args.every)
        if args.install:
            cron.install(line)
        print(line)
        return 0
    except BusyError as exc:
        from tally_agent.runner import EXIT_PENDING

        print(f"tally-agent: {exc}", file=sys.stderr)
        return EXIT_PENDING
    except UnrecognisedInputError as exc:
        print(f"tally-agent: {exc}", file=sys.stderr)
        return EXIT_UNRECOGNISED
    except (ConfigError, collect.CollectError, ValueError, OSError) as exc:
        print(f"tally-agent: {exc}", file=sys.stderr)
        return 1


def _zipapp_main() -> None:
    """Entry point of the zipapp (`python tally-agent.pyz ...`)."""
    sys.exit(main())
