"""``batchmill gui [INPUT...] [--processor NAME] [--param K=V]... [--output DIR] [--start] [--exit-when-done]``.

Exit status (with ``--exit-when-done``): 0 every file done or skipped; 1 some
files failed; 2 bad arguments or a job that could not start; 4 no file to process
(nothing matched); 130 a job was cancelled or interrupted (closing the window).
Without it: 0 when the window closes, 2 for bad arguments.

Start-up timing: with ``BATCHMILL_STARTUP_PROBE`` set to the launcher's
``time.time()`` at launch, the window prints ``window shown after X.XXX s`` once
it has been shown and painted, and quits with status 0 (packaging/startup_time.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchmill.core.exit_status import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_FILES, EXIT_OK, EXIT_USAGE


class UsageError(Exception):
    """Bad arguments: printed as ``batchmill gui: error: …``, exit status 2."""


@dataclass(frozen=True)
class Options:
    inputs: tuple[str, ...]
    processor: str | None
    params: dict[str, str]
    output: str | None
    start: bool
    exit_when_done: bool
    # The processor or its parameters cannot be used (a script that does not load). Without
    # --start the window opens all the same and says so: started from a desktop entry, nobody
    # reads stderr. With --start it is a usage error (exit 2), as for `batchmill run`.
    problem: str | None = None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="batchmill gui", description="Open the Batchmill window.")
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="folders or files to put on the Inputs list")
    parser.add_argument("--processor", metavar="NAME", help="the processor to select")
    parser.add_argument("--param", "-p", action="append", default=[], metavar="K=V", help="a processor parameter")
    parser.add_argument("--output", "-o", metavar="DIR", help="the output folder")
    parser.add_argument("--start", action="store_true", help="start the job at once")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="close the window when the job has finished (exit status like `batchmill run`)")
    return parser


def parse_options(argv: Sequence[str]) -> Options:
    """Check everything that can be checked before a window opens; raises UsageError."""
    from batchmill.core.processors import ParamError, UnknownProcessor, get_processor

    args = build_parser().parse_args(list(argv))
    params: dict[str, str] = {}
    for pair in args.param:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param needs NAME=VALUE, got {pair!r}")
        params[key.strip()] = value
    for raw in args.inputs:
        if not Path(raw).exists():
            raise UsageError(f"input {raw} does not exist")
    problem = None
    if args.processor is not None:
        try:
            get_processor(args.processor).validate(params)
        except (UnknownProcessor, ParamError) as exc:
            problem = str(exc.args[0] if exc.args else exc)
            if args.start:
                raise UsageError(problem) from None
    elif params:
        raise UsageError("--param needs --processor")
    if args.exit_when_done and not args.start:
        raise UsageError("--exit-when-done needs --start")
    if args.start:
        missing = [what for what, value in (("INPUT", args.inputs), ("--processor", args.processor),
                                            ("--output", args.output)) if not value]
        if missing:
            raise UsageError(f"--start needs {', '.join(missing)}")
    if problem is not None:
        return Options(tuple(args.inputs), None, {}, args.output, False, False, problem)
    return Options(tuple(args.inputs), args.processor, params, args.output, args.start, args.exit_when_done)


def main(argv: Sequence[str] | None = None) -> int:
    from batchmill.core.bootstrap import bootstrap, refuse_in_worker

    bootstrap()
    try:
        options = parse_options(sys.argv[2:] if argv is None else argv)
    except UsageError as exc:
        print(f"batchmill gui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    refuse_in_worker("a window")
    from batchmill.gui.display_check import display_problem

    problem = display_problem()  # Qt's own answer is an abort (134) that does not say what to do
    if problem is not None:
        print(f"batchmill: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if options.problem is not None:
        print(f"batchmill gui: error: {options.problem}", file=sys.stderr)
    code = run_window(options)
    return EXIT_USAGE if options.problem is not None else code


ENGINE_STOPPED_HEADLINE = ("Batchmill's engine stopped, and the jobs it held have ended (see the queue). "
                           "Start the job again to go on.")


def run_window(options: Options) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from batchmill.core.engine import Engine
    from batchmill.core.journal_trouble import JournalError
    from batchmill.core.paths import env_home
    from batchmill.gui.bridge import Bridge
    from batchmill.gui.errors import ErrorReporter
    from batchmill.gui.gil import freeze_start_up_objects, share_the_gil
    from batchmill.gui.main_window import MainWindow
    from batchmill.gui.resources import app_icon
    from batchmill.gui.settings import Settings
    from batchmill.gui.startup_probe import report_first_paint, startup_probe

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "batchmill"])
    assert isinstance(app, QApplication)
    app.setApplicationName("Batchmill")
    app.setApplicationDisplayName("Batchmill")
    app.setOrganizationName("Batchmill")
    app.setWindowIcon(app_icon())
    share_the_gil()
    try:
        engine = Engine(file_events=False)  # the window needs no event per file done, only counts
    except JournalError as exc:  # nothing can run without it: say which file and what to do
        print(f"batchmill: error: {exc}", file=sys.stderr)
        message = str(exc)
        QMessageBox.critical(None, "Batchmill cannot open its journal", message[:1].upper() + message[1:])
        return EXIT_USAGE
    reporter = ErrorReporter()
    try:
        bridge = Bridge(engine)
        window = MainWindow(bridge, Settings(env_home()))
        reporter.window = window
        bridge.engine_stopped.connect(lambda error: reporter.show_error(
            f"the engine stopped: {error}", error, ENGINE_STOPPED_HEADLINE))
        reporter.install()
        apply_options(window, options)
        window.show()
        show_options_problem(window, options)
        freeze_start_up_objects()
        outcome = _Outcome()
        launched_at = startup_probe()
        if launched_at is not None:
            report_first_paint(window, app, launched_at)
        elif options.start:
            job_id = window.start_job()
            if job_id is None:
                print(f"batchmill gui: error: {window.task.message.text()}", file=sys.stderr)
                if options.exit_when_done:
                    window.quit_now()
                    window.close()
                    return EXIT_USAGE
        else:
            QTimer.singleShot(0, window.offer_resume)
        if options.exit_when_done:
            window.all_jobs_finished.connect(lambda: _finish(window, app, outcome))
        code = app.exec()
        window.quit_now()
        return outcome.code(window) if options.exit_when_done else code
    finally:
        reporter.uninstall()
        engine.close()


def apply_options(window: Any, options: Options) -> None:
    """Put the command line's inputs, processor, parameters and output into the window."""
    if options.processor:
        window.task.set_processor(options.processor)
        if options.params:
            window.task.form.set_values(options.params)
    if options.output:
        window.task.set_output(str(Path(options.output).absolute()))
    if options.inputs:
        window.inputs.add_paths(list(options.inputs))


def show_options_problem(window: Any, options: Options) -> Any:
    """The command line's processor could not be used: said in the window (returns the dialog)."""
    if options.problem is None:
        return None
    return window.show_problem("The processor on the command line cannot be used", options.problem,
                               "Pick a processor in “What to do”, or fix the script and load it again "
                               "(File → Load script…).")


class _Outcome:
    def __init__(self) -> None:
        self.finished = False

    def code(self, window: Any) -> int:
        from batchmill.core.events import JobState

        rows = window.bridge.jobs.jobs()
        states = {row.state for row in rows}
        if JobState.ERROR in states:
            return EXIT_USAGE
        if not self.finished or states & {JobState.CANCELLED, JobState.INTERRUPTED}:
            return EXIT_INTERRUPTED
        if any(row.failed for row in rows):
            return EXIT_FAILED
        return EXIT_NO_FILES if rows and all(row.total == 0 for row in rows) else EXIT_OK


def _finish(window: Any, app: Any, outcome: _Outcome) -> None:
    outcome.finished = True
    window.quit_now()
    window.close()
    app.quit()
