"""``batchmill`` on the command line: run, resume, retry, jobs, show, processors.

Exit status (batchmill.core.exit_status): 0 every file done or skipped; 1 some files
failed; 2 the job could not start (with a message naming what is wrong); 4 no file to
process (nothing matched); 130 interrupted (the journal keeps the state; ``batchmill
resume`` continues).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from batchmill.core import __version__
from batchmill.core.events import FileStatus, JobState
from batchmill.core.exit_status import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_FILES, EXIT_OK, EXIT_USAGE
from batchmill.core.spec import PROVENANCE_MODES, JobSpec, Overwrite, default_workers, parse_halt

COMPLETION_SHELLS = ("bash", "zsh", "fish", "tcsh", "powershell")  # shtab's (tests check the two agree)
__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_NO_FILES", "EXIT_OK", "EXIT_USAGE", "main"]


class UsageError(Exception):
    """Bad command line: printed as ``batchmill: error: …`` with exit 2 (and, with ``--json``, the
    JSON object of a job that could not start): every exit-2 error of the CLI goes through here."""

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    """argparse's own errors (a missing argument, a bad value) become UsageErrors, so they are
    reported like every other exit-2 error; sub-parsers are made of this class too."""

    run_parser: argparse.ArgumentParser | None = None  # the top-level parser's ``run``

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())

    def parse_command_line(self, argv: list[str]) -> argparse.Namespace:
        """``run``'s INPUTs may come before and after options (``run --preset P IN``, ``run P -
        -0 --root IN``) and may be none (``--files-from``): parsed intermixed, which argparse
        offers only for a parser without sub-commands, so ``run`` is parsed by its own."""
        if argv[:1] == ["run"] and self.run_parser is not None:
            args = self.run_parser.parse_intermixed_args(argv[1:])
            args.command = "run"
            return args
        return self.parse_args(argv)


def usage_failure(message: str, as_json: bool, usage: str = "") -> int:
    """Report an error that stops a command before any job runs; returns EXIT_USAGE."""
    print(f"{usage}batchmill: error: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"job_id": None, "state": "error", "error": message, "total": 0, "done": 0,
                          "failed": 0, "skipped": 0, "elapsed_s": 0.0, "failures": []}))
    return EXIT_USAGE


def build_parser() -> _Parser:
    parser = _Parser(prog="batchmill", description="Batch file processor: every core on every file.")
    parser.add_argument("--version", action="version", version=f"batchmill {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a processor over files and folders",
                         usage="batchmill run PROCESSOR INPUT... --output DIR [options]\n"
                               "       batchmill run PROCESSOR - [-0] [--root DIR] --output DIR [options]\n"
                               "       batchmill run --preset NAME INPUT... [options]")
    run.add_argument("processor", metavar="PROCESSOR", help="the processor (not given with --preset)")
    run.add_argument("inputs", nargs="*", metavar="INPUT",
                     help="files and folders; a lone - reads a list of files from stdin")
    run.add_argument("--output", "-o", default=None, metavar="DIR",
                     help="where outputs go: a folder X becomes DIR/X.name/…, a file DIR/name")
    run.add_argument("--param", "-p", action="append", default=[], metavar="K=V",
                     help="a processor parameter (see `batchmill processors`); repeat as needed")
    run.add_argument("--workers", "-j", type=_positive_int, default=None, metavar="N",
                     help=f"worker processes (default: CPU cores - 1 = {default_workers()})")
    run.add_argument("--include", action="append", default=[], metavar="GLOB",
                     help="only files whose name or relative path matches (repeatable)")
    run.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                     help="leave out files and folders that match (repeatable)")
    run.add_argument("--files-from", default=None, metavar="FILE",
                     help="read the files to process from FILE, one a line (- is stdin), as rsync and tar do")
    run.add_argument("--null", "-0", action="store_true",
                     help="the list is NUL-separated, as find -print0 writes it (any file name gets through)")
    run.add_argument("--root", default=None, metavar="DIR",
                     help="listed files are laid out relative to DIR, mirrored as OUTPUT/DIR.name/… as when "
                          "DIR is the input (default: the deepest folder holding them all)")
    run.add_argument("--no-recursive", action="store_true", help="only the top level of each folder")
    case = run.add_mutually_exclusive_group()
    case.add_argument("--ignore-case", "-i", dest="ignore_case", action="store_const", const=True, default=None,
                      help="patterns ignore case (*.jpg matches IMG_1.JPG); the default on Windows and macOS")
    case.add_argument("--case-sensitive", dest="ignore_case", action="store_const", const=False,
                      help="patterns keep case; the default elsewhere")
    run.add_argument("--overwrite", choices=[o.value for o in Overwrite], default=None,
                     help="when an output exists: skip the file (default), replace it, write 'name (1).ext', "
                          "or (changed) redo it only if its input, the processor, its parameters or code changed")
    run.add_argument("--dry-run", "-n", action="store_true",
                     help="scan and plan only: print what would happen to every file (with --json a JSON line "
                          "each), run nothing")
    run.add_argument("--estimate", choices=["history", "sample"], default="history",
                     help="with --dry-run: the estimate from the journal's history of the processor (default), "
                          "or, where there is none, from a short timed sample (up to 3 files, ~2 s, run into a "
                          "scratch folder: the only processor a dry run runs)")
    run.add_argument("--hash-inputs", action="store_true",
                     help="with --overwrite changed: compare inputs by content (sha256), not size and mtime only; "
                          "with --provenance sidecar: the sidecar carries the input's and the output's sha256")
    run.add_argument("--provenance", choices=list(PROVENANCE_MODES), default=None,
                     help="where what made each output is kept: the journal (default), or also a sidecar, a "
                          "small JSON file beside each output named OUTPUT.provenance.json (a manifest gets one "
                          "too); the scan never takes a sidecar for an input")
    run.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                     help="fail a file that runs longer (its worker is killed and replaced)")
    run.add_argument("--retries", type=_non_negative_int, default=None, metavar="N",
                     help="run a failed file up to N more times")
    run.add_argument("--name", dest="name_template", default=None, metavar="TEMPLATE",
                     help="output file names, e.g. '{stem}_small{ext}' ({stem}, {ext}, {name})")
    run.add_argument("--preset", default=None, metavar="NAME", help="start from a saved preset")
    run.add_argument("--save-preset", default=None, metavar="NAME",
                     help="save this job's processor and options as a preset (and run it)")
    run.add_argument("--halt-after", default=None, metavar="N|P%",
                     help="stop the job after N failed files, or P%% of all files (resumable)")
    run.add_argument("--max-files-per-worker", type=_positive_int, default=None, metavar="N",
                     help="recycle a worker after this many files")
    run.add_argument("--job-name", default="", metavar="NAME", help="a name for the job (shown in `jobs`)")
    run.add_argument("--backend", choices=["local", "dask"], default="local",
                     help="where files are processed: this machine's process pool, or a Dask cluster")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="Dask scheduler, e.g. tcp://host:8786 (implies --backend dask; without it, "
                          "--backend dask starts a local cluster)")
    _add_report_options(run)
    parser.run_parser = run

    resume = sub.add_parser("resume", help="continue an interrupted job (default: the latest)")
    resume.add_argument("job_id", nargs="?", metavar="JOB_ID")
    _add_report_options(resume)

    retry = sub.add_parser("retry", help="run the failed files of a job again")
    retry.add_argument("job_id", metavar="JOB_ID")
    retry.add_argument("--current-code", action="store_true",
                       help="run the processor as its code is now (a script edited since), not the job's original")
    _add_report_options(retry)

    jobs = sub.add_parser("jobs", help="list jobs in the journal; forget or prune old ones")
    jobs.add_argument("--json", action="store_true")
    jobs.add_argument("--limit", type=_positive_int, default=30, metavar="N", help="the newest N jobs (30)")
    jobs_sub = jobs.add_subparsers(dest="jobs_action", metavar="ACTION")
    jobs_list = jobs_sub.add_parser("list", help="list jobs (the default)")
    forget = jobs_sub.add_parser("forget", help="delete jobs from the journal (outputs stay), then compact it")
    forget.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    prune = jobs_sub.add_parser("prune", help="forget every job that ended longer ago than --older-than")
    prune.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 30d, 12h, 90m, 2w")
    prune.add_argument("--keep-failed", action="store_true", help="keep jobs with failed files")
    prune.add_argument("--dry-run", action="store_true", help="list what would be forgotten")
    for action in (jobs_list, forget, prune):  # also after the action; SUPPRESS keeps one given before it
        action.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    jobs_list.add_argument("--limit", type=_positive_int, default=argparse.SUPPRESS, metavar="N")

    complete = sub.add_parser("completion", help="print the shell completion script (bash, zsh, fish, …)",
                              description="source <(batchmill completion bash); for zsh: batchmill completion zsh "
                                          "> a folder of $fpath as _batchmill, then compinit")
    complete.add_argument("shell", choices=COMPLETION_SHELLS)

    where = sub.add_parser("paths", help="where the journal, settings, presets and scratch folders are")
    where.add_argument("which", nargs="?", choices=["journal", "settings", "presets", "scratch"],
                       help="print only this path (for scripts: sqlite3 \"$(batchmill paths journal)\")")
    where.add_argument("--json", action="store_true")

    show = sub.add_parser("show", help="show a job and its failed files")
    show.add_argument("job_id", metavar="JOB_ID")
    show.add_argument("--json", action="store_true")
    show.add_argument("--files", action="store_true",
                      help="every file: state, result (a function's return value) and what made its output")

    why = sub.add_parser("why", help="what made an output, and what the next run would do to a file and why")
    why.add_argument("path", metavar="OUTPUT_OR_INPUT")
    why.add_argument("--json", action="store_true")

    procs = sub.add_parser("processors", help="list processors and their parameters")
    procs.add_argument("--json", action="store_true")
    procs.add_argument("--script", type=Path, default=None, metavar="FILE.py",
                       help="show the processor a Python script's function becomes")
    procs.add_argument("--function", default="process")

    presets = sub.add_parser("presets", help="list, show or delete saved presets")
    presets.add_argument("action", nargs="?", choices=["list", "show", "delete"], default="list")
    presets.add_argument("preset", nargs="?", metavar="NAME")

    selftest = sub.add_parser("selftest", help="check that worker processes work on this machine")
    selftest.add_argument("--json", action="store_true")

    from batchmill.core.journal_cli import add_journal_parser

    add_journal_parser(sub)

    sub.add_parser("gui", help="open the window (also: batchmill with no arguments)", add_help=False)
    return parser


def _add_report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object when the job ends")
    volume = p.add_mutually_exclusive_group()
    volume.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    volume.add_argument("--verbose", "-v", action="store_true", help="a line for every file done or skipped")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


PRESET_PLACEHOLDER = "<preset>"


def with_preset_placeholder(argv: list[str]) -> list[str]:
    """``run --preset NAME INPUT...`` names no processor; stand one in, so INPUTs stay INPUTs
    (and a ``--`` before a file named like an option keeps working in both forms)."""
    options = argv[: argv.index("--")] if "--" in argv else argv
    if options[:1] == ["run"] and any(a == "--preset" or a.startswith("--preset=") for a in options):
        return ["run", PRESET_PLACEHOLDER, *argv[1:]]
    return argv


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param needs NAME=VALUE, got {pair!r}")
        params[key.strip()] = value
    return params


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI. Entry points call ``batchmill.core.bootstrap.bootstrap()`` before this, never after."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # stdout closed early (batchmill processors | head): not an error to report
        return _after_broken_pipe()


def _after_broken_pipe() -> int:
    """What is still buffered for the closed pipe goes nowhere (not into a traceback at exit);
    the status is a program's that the pipe's SIGPIPE stopped, as ``ls | head`` gives."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + getattr(signal, "SIGPIPE", 13)


def _main(argv: list[str]) -> int:
    options = argv[: argv.index("--")] if "--" in argv else argv
    try:
        args = build_parser().parse_command_line(with_preset_placeholder(argv))
    except UsageError as exc:
        return usage_failure(str(exc), "--json" in options, exc.usage)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "run": cmd_run, "resume": cmd_resume, "retry": cmd_retry, "jobs": cmd_jobs,
        "show": cmd_show, "processors": cmd_processors, "selftest": cmd_selftest, "gui": cmd_gui,
        "presets": cmd_presets, "paths": cmd_paths, "journal": _cmd_journal, "completion": cmd_completion,
        "why": cmd_why,
    }
    if args.command is None:
        build_parser().print_help()
        return EXIT_USAGE
    from batchmill.core.journal_trouble import JournalError

    try:
        return commands[args.command](args)
    except UsageError as exc:
        return usage_failure(str(exc), getattr(args, "json", False), exc.usage)
    except JournalError as exc:  # no job could start, or be looked at: exit 2 with what to do
        return usage_failure(str(exc), getattr(args, "json", False))


# -- running jobs ---------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    if args.estimate == "sample" and not args.dry_run:
        raise UsageError("--estimate sample goes with --dry-run (a run's own progress gives its ETA)")
    if args.dry_run:
        from batchmill.core.preview import print_preview

        return print_preview(spec, args.json, sys.stdout, sys.stderr, sample=args.estimate == "sample")
    if args.save_preset:
        from batchmill.core.presets import PresetError, save_preset

        try:
            path = save_preset(preset_from_spec(args.save_preset, spec))
        except PresetError as exc:
            raise UsageError(str(exc)) from None
        print(f"saved preset {args.save_preset!r} to {path}", file=sys.stderr)
    if spec.backend == "local":
        from batchmill.core import early

        early.start_workers(spec.workers)  # they start up while the engine is imported
    return _follow(args, lambda engine: engine.submit(spec))


def spec_from_args(args: argparse.Namespace) -> JobSpec:
    """The JobSpec a ``run`` command line describes: explicit options, then the preset, then defaults."""
    from batchmill.core.inputs_list import ListError, inputs_and_files
    from batchmill.core.presets import Preset, PresetError, load_preset

    preset: Preset | None = None
    if args.preset:
        try:
            preset = load_preset(args.preset)
        except PresetError as exc:
            raise UsageError(str(exc)) from None
        processor = preset.processor
    else:
        processor = args.processor
    try:
        inputs, listed = inputs_and_files(list(args.inputs), args.files_from, args.null, args.root, sys.stdin.buffer)
    except ListError as exc:
        raise UsageError(str(exc)) from None
    params: dict[str, Any] = dict(preset.params) if preset else {}
    params.update(parse_params(args.param))
    output = args.output or (preset.output if preset else None)
    if not output:
        raise UsageError("run needs --output DIR" + (f" (preset {preset.name!r} has none)" if preset else ""))

    def pick(value: Any, preset_value: Any, default: Any) -> Any:
        return value if value is not None else preset_value if preset_value is not None else default

    try:
        if args.halt_after is not None:
            parse_halt(args.halt_after)
        return JobSpec(
            processor=processor, inputs=tuple(inputs), output=output, params=params,
            include=tuple(args.include or (preset.include if preset else ())),
            exclude=tuple(args.exclude or (preset.exclude if preset else ())),
            recursive=not args.no_recursive and (preset.recursive if preset else True),
            overwrite=Overwrite(pick(args.overwrite, preset.overwrite if preset else None, Overwrite.SKIP.value)),
            workers=pick(args.workers, preset.workers if preset else None, default_workers()),
            timeout_s=pick(args.timeout, preset.timeout_s if preset else None, None),
            retries=pick(args.retries, preset.retries if preset else None, 0),
            max_files_per_worker=args.max_files_per_worker, halt_after=args.halt_after, name=args.job_name,
            name_template=pick(args.name_template, preset.name_template if preset else None, None),
            backend="dask" if args.scheduler else args.backend, scheduler=args.scheduler,
            ignore_case=args.ignore_case, files=listed, hash_inputs=args.hash_inputs,
            provenance=pick(args.provenance, preset.provenance if preset else None, "journal"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def preset_from_spec(name: str, spec: JobSpec) -> Any:
    from batchmill.core.presets import Preset

    return Preset(name=name, processor=spec.processor, params=dict(spec.params), output=spec.output,
                  overwrite=spec.overwrite.value, include=spec.include, exclude=spec.exclude,
                  recursive=spec.recursive, workers=spec.workers, timeout_s=spec.timeout_s, retries=spec.retries,
                  name_template=spec.name_template, provenance=spec.provenance if spec.sidecars else None)


def cmd_presets(args: argparse.Namespace) -> int:
    from batchmill.core.presets import PresetError, delete_preset, list_presets, load_preset, presets_dir

    try:
        if args.action == "list":
            names = list_presets()
            print("\n".join(names) if names else f"no presets yet (they live in {presets_dir()})")
        elif args.preset is None:
            raise UsageError(f"presets {args.action} needs a preset NAME")
        elif args.action == "show":
            print(load_preset(args.preset).to_json())
        else:
            delete_preset(args.preset)
            print(f"deleted preset {args.preset!r}")
    except PresetError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    from batchmill.core.journal import Journal

    job_id = args.job_id
    if job_id is None:
        journal = Journal()
        job = journal.latest_resumable()
        journal.close()
        if job is None:
            raise UsageError("there is no interrupted or halted job to resume "
                             "(a cancelled job resumes by its id: batchmill resume JOB_ID)")
        job_id = job.id

    def start(engine: Any) -> str:
        return str(engine.resume(job_id).result())  # decided on the engine thread; a refusal raises JobError

    return _follow(args, start)


def cmd_retry(args: argparse.Namespace) -> int:
    def start(engine: Any) -> str:
        job = engine.journal.get_job(args.job_id)
        if job is None:
            raise UsageError(f"no job {args.job_id!r} in the journal")
        from batchmill.core.prepare import code_changed
        from batchmill.core.provenance import ProvenanceStore

        recipe = ProvenanceStore(engine.journal).job_recipe(job.id)  # read before a retry makes the current code the job's
        edited = not args.current_code and code_changed(job, recipe.code if recipe is not None else None)
        engine.retry(job.id, args.current_code).result()  # decided on the engine thread; a refusal raises JobError
        which = "the processor's current code" if args.current_code else "the code the job was made with"
        hint = " (its script has been edited since: --current-code runs the new version)" if edited else ""
        if not getattr(args, "quiet", False):
            print(f"retrying the failed files of job {job.id} with {which}{hint}", file=sys.stderr)
        return job.id

    return _follow(args, start)


def _follow(args: argparse.Namespace, start: Callable[[Any], str]) -> int:
    from batchmill.core.engine import Engine, JobError
    from batchmill.core.report import Follower

    engine = Engine(file_events=args.verbose, keep_workers=False)  # an event per file only to print it
    # What start-up made (modules, classes) lives as long as this one-job process: kept out of
    # the cyclic collector's sight, so its full passes during the job walk only the job's objects.
    gc.freeze()
    try:
        try:
            job_id = start(engine)
        except JobError as exc:
            return usage_failure(str(exc), args.json)
        follower = Follower(job_id, quiet=args.quiet, verbose=args.verbose)
        interrupted = _install_interrupt(lambda: engine.interrupt(job_id))
        outcome = follower.follow(engine.events, lambda: engine.alive)
        code = outcome.exit_code()
        if not args.quiet or outcome.state is JobState.ERROR or code == EXIT_NO_FILES:
            print(follower.summary(), file=sys.stderr)
        if args.json:
            print(follower.as_json())
        if interrupted and outcome.state is JobState.INTERRUPTED and interrupted[0] == signal.SIGTERM:
            code = 128 + signal.SIGTERM
        return code
    finally:
        engine.close()
        from batchmill.core import early

        early.stop_unused()


def _install_interrupt(stop: Callable[[], None]) -> list[int]:
    """Ctrl-C (or SIGTERM) stops the job once; a second Ctrl-C while stopping exits at once."""
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        if received:
            print("batchmill: stopping now", file=sys.stderr)
            raise SystemExit(EXIT_INTERRUPTED)
        received.append(signum)
        print("\nbatchmill: interrupted; stopping workers and recording the job…", file=sys.stderr)
        stop()

    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, on_signal)
    return received


# -- the journal ----------------------------------------------------------
def cmd_jobs(args: argparse.Namespace) -> int:
    from batchmill.core.journal import Journal

    if args.jobs_action in ("forget", "prune"):
        return cmd_forget(args)
    journal = Journal()
    jobs = journal.list_jobs(args.limit)
    journal.close()
    if args.json:
        print(json.dumps([_job_json(j) for j in jobs], indent=1))
        return EXIT_OK
    if not jobs:
        print("no jobs yet")
        return EXIT_OK
    header = f"{'JOB':12}  {'STATE':11}  {'PROCESSOR':10}  {'DONE':>7}  {'FAILED':>6}  {'SKIP':>6}  {'TOTAL':>7}  " \
             f"{'CREATED':16}  NAME"
    print(header)
    for j in jobs:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(j.created))
        print(f"{j.id:12}  {j.shown_state.value:11}  {j.processor[:10]:10}  {j.done:>7}  {j.failed:>6}  "
              f"{j.skipped:>6}  {j.total:>7}  {created:16}  {j.name}")
    return EXIT_OK


def cmd_forget(args: argparse.Namespace) -> int:
    """``jobs forget JOB…`` and ``jobs prune --older-than AGE``: exit 1 if a named job was refused."""
    from batchmill.core.housekeeping import HousekeepingError, forget, parse_age, resolve, to_prune
    from batchmill.core.journal import Journal

    journal = Journal()
    try:
        if args.jobs_action == "forget":
            jobs = resolve(journal, args.job_ids)
        else:
            jobs = to_prune(journal, parse_age(args.older_than), args.keep_failed)
            if args.dry_run:
                print(json.dumps([j.id for j in jobs]) if args.json else
                      "\n".join(f"would forget {j.id}  {j.shown_state.value:11}  {j.name}" for j in jobs)
                      or "nothing to prune")
                return EXIT_OK
        report = forget(journal, jobs)
    except HousekeepingError as exc:
        raise UsageError(str(exc)) from None
    finally:
        journal.close()
    print(json.dumps(report.as_json()) if args.json else report.text())
    return EXIT_FAILED if report.refused else EXIT_OK


def cmd_completion(args: argparse.Namespace) -> int:
    from batchmill.core.completion import completion_script

    sys.stdout.write(completion_script(build_parser(), args.shell))
    return EXIT_OK


def cmd_paths(args: argparse.Namespace) -> int:
    from batchmill.core.paths import places

    found = places().as_dict()
    if args.which:
        print(found[args.which])
    elif args.json:
        print(json.dumps(found))
    else:
        for key in ("journal", "settings", "presets", "scratch"):
            print(f"{key:9} {found[key]}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from batchmill.core.journal import Journal

    journal = Journal()
    try:
        job = journal.get_job(args.job_id)
    except LookupError as exc:
        raise UsageError(str(exc)) from None
    if job is None:
        journal.close()
        raise UsageError(f"no job {args.job_id!r} in the journal {journal.path}")
    failures = journal.files(job.id, (FileStatus.FAILED,))
    files = _files_of(journal, job) if args.files else None
    journal.close()
    if args.json:
        data = _job_json(job)
        data["failures"] = [{"input": f.input, "error": f.error, "kind": f.kind, "attempts": f.attempts,
                             "traceback": f.traceback} for f in failures]
        if files is not None:
            data["recipe"], data["files"] = files
        print(json.dumps(data, indent=1))
        return EXIT_OK
    print(f"job {job.id}: {job.name}")
    print(f"  state      {job.shown_state.value}" + (f" ({job.error})" if job.error else ""))
    print(f"  processor  {job.identity}")
    print(f"  params     {json.dumps(job.spec.params)}")
    print(f"  inputs     {', '.join(job.spec.inputs)}"
          + (f" ({len(job.spec.files):,} listed files)" if job.spec.files else ""))
    print(f"  output     {job.spec.output}")
    print(f"  files      {job.done} done, {job.failed} failed, {job.skipped} skipped of {job.total}")
    print(f"  elapsed    {job.elapsed:.1f} s")
    if job.scan_skipped:
        from batchmill.core.report import scan_skip_lines

        print(f"  scan       {job.scan_skipped} skipped by the scan (not files of the job):")
        for line in scan_skip_lines(job.scan_skipped, list(job.scan_skips), job.id, shown=len(job.scan_skips)):
            print(f"  {line}")
    for f in failures:
        print(f"FAILED {f.input}\n  {f.error}")
    for entry in files[1] if files is not None else []:
        shown = f" -> {entry['output']}" if entry["output"] else ""
        value = f"  {json.dumps(entry['result'])}" if entry["result"] is not None else ""
        print(f"{entry['state']:8} {entry['input']}{shown}{value}")
    return EXIT_OK


def _files_of(journal: Any, job: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from batchmill.core.prepare import plan_roots_for_existing
    from batchmill.core.provenance import ProvenanceStore, job_files, job_recipe_json

    return (job_recipe_json(ProvenanceStore(journal), job),
            list(job_files(journal, job, plan_roots_for_existing(job))))


def cmd_why(args: argparse.Namespace) -> int:
    from batchmill.core.journal import Journal
    from batchmill.core.why import explain

    journal = Journal()
    try:
        explanation = explain(args.path, journal)
    finally:
        journal.close()
    print(json.dumps(explanation.as_json(), indent=1) if args.json else explanation.text())
    return EXIT_OK if explanation.found else EXIT_FAILED


def _job_json(j: Any) -> dict[str, Any]:
    return {"job_id": j.id, "name": j.name, "processor": j.processor, "identity": j.identity,
            "state": j.shown_state.value, "total": j.total, "done": j.done, "failed": j.failed,
            "skipped": j.skipped, "elapsed_s": round(j.elapsed, 3), "created": j.created, "error": j.error,
            "spec": json.loads(j.spec.to_json()), "scan_skipped": j.scan_skipped,
            "scan_skips": [{"path": path, "reason": why} for path, why in j.scan_skips]}


# -- processors -----------------------------------------------------------
def cmd_processors(args: argparse.Namespace) -> int:
    from batchmill.core.processors import all_processors, plugin_problems
    from batchmill.core.processors.base import ParamError

    registry: dict[str, Any] = all_processors()
    if args.script is not None:
        from batchmill.core.processors.script import load_script_processor

        try:
            proc = load_script_processor(args.script, args.function)
        except ParamError as exc:
            raise UsageError(str(exc)) from None
        registry = {proc.name: proc}
        print(f"run it with: batchmill run python INPUT... --output DIR --param script={proc.script} "
              f"--param function={proc.function} [--param NAME=VALUE]...", file=sys.stderr)
    for problem in plugin_problems():  # also with --json: a script reading stdout still sees why one is missing
        print(f"warning: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps([{
            "name": p.name, "description": p.description,
            "params": [{"name": q.name, "type": q.type_name, "default": _plain(q.default), "choices": list(q.choices),
                        "help": q.help, "required": q.required} for q in p.params]} for p in registry.values()],
            indent=1))
        return EXIT_OK
    for proc in registry.values():
        print(f"{proc.name}\n  {proc.description}")
        for q in proc.params:
            facts = ["required" if q.required else f"default {_plain(q.default)!r}"]
            if q.choices:
                facts.append(f"one of {', '.join(q.choices)}")
            if q.minimum is not None or q.maximum is not None:
                facts.append(f"{_num(q.minimum)}..{_num(q.maximum)}")
            print(f"    --param {q.name}=<{q.type_name}>  ({'; '.join(facts)})" + (f"  {q.help}" if q.help else ""))
        print()
    return EXIT_OK


def cmd_selftest(args: argparse.Namespace) -> int:
    from batchmill.core.selftest import run_selftest

    report = run_selftest(progress=lambda message: print(message, file=sys.stderr))
    if args.json:
        print(json.dumps({"ok": report.ok, "checks": [c.__dict__ for c in report.checks]}))
    else:
        print(report.text())
    return EXIT_OK if report.ok else EXIT_FAILED


def _cmd_journal(args: argparse.Namespace) -> int:
    from batchmill.core.journal_cli import cmd_journal

    return cmd_journal(args)


def cmd_gui(_args: argparse.Namespace) -> int:
    raise UsageError("the window is opened by the batchmill program itself: run `batchmill gui`")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


if __name__ == "__main__":
    from batchmill.core.bootstrap import bootstrap

    bootstrap()
    sys.exit(main())
