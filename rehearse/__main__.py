"""`python -m rehearse run scenarios/ [--repeat N] [--junit out.xml]`: rehearse every scenario.

By default against a server it starts itself on this checkout (the demo model, its own SQLite bank
seeded with seed_demo); `--llm bedrock` puts Bedrock behind it, `--base-url` rehearses any Fintalk.
Exits 0 when every attempt passed, 1 when one failed, 2 when the scenarios or options are wrong.
`python -m rehearse check scenarios/` only reads the files.
"""
import argparse
import os
import sys
import time
from collections import Counter


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m rehearse", description=__doc__.splitlines()[0])
    commands = main.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="read the scenario files and report mistakes, sending nothing")
    check.add_argument("paths", nargs="+")
    run = commands.add_parser("run", help="run the scenarios")
    run.add_argument("paths", nargs="+", help="scenario files or folders (every *.yaml under them)")
    run.add_argument("--repeat", type=int, default=1, help="attempts per scenario (real models vary): a pass rate")
    run.add_argument("--junit", help="write JUnit XML here")
    run.add_argument("-k", dest="only", default="", help="only scenarios whose name contains this")
    run.add_argument("--label", default="", help="what is being tried, kept with the run")
    run.add_argument("--no-store", action="store_true", help="do not keep the results in the database")
    run.add_argument("--first-word-ms", type=float, help="the time-to-first-word budget for every turn")
    own = run.add_argument_group("the server the runner starts (the default)")
    own.add_argument("--llm", choices=("demo", "bedrock"), default="demo")
    own.add_argument("--bedrock-model", help="BEDROCK_MODEL_ID for the server (--llm bedrock)")
    own.add_argument("--bedrock-endpoint", help="a Bedrock endpoint for the server (a stand-in)")
    own.add_argument("--script-standin", metavar="URL",
                     help="script the project's Bedrock stand-in at URL from each turn's `model:` (CI)")
    other = run.add_argument_group("another server")
    other.add_argument("--base-url", help="rehearse this Fintalk instead of starting one")
    other.add_argument("--api-key", default=os.environ.get("FINTALK_REHEARSE_API_KEY", ""))
    other.add_argument("--outbound-api-key", default=os.environ.get("FINTALK_REHEARSE_OUTBOUND_API_KEY", ""),
                       help="a key with the outbound scope, to ask for an outbound scenario's call")
    other.add_argument("--database-url", help="its database: bank state, call records and outbound requests")
    other.add_argument("--sms-file", help="where it writes one-time codes (FINTALK_SMS_FILE_PATH)")
    other.add_argument("--cache-url", help="its Redis (FINTALK_CACHE_URL), emptied with --reset-bank")
    other.add_argument("--reset-bank", action="store_true",
                       help="reset its bank to the demo bank and empty its cache before each scenario "
                            "(a demo server only!)")
    bedrock = run.add_argument_group("a simulated caller and a judge on Bedrock (Converse)")
    bedrock.add_argument("--caller-model", help="a Bedrock model id that plays scenarios with a persona and a goal")
    bedrock.add_argument("--judge-model", help="a Bedrock model id that judges each call against its rubric")
    bedrock.add_argument("--caller-endpoint", help="the Bedrock endpoint for the caller and judge (a stand-in)")
    return main


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fintalk.settings")
    import django

    django.setup()
    from rehearse.scenario import ScenarioError, load_all

    try:
        scenarios = [s for s in load_all(args.paths) if getattr(args, "only", "") in s.name]
    except ScenarioError as exc:
        print(f"rehearse: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        print(f"{len(scenarios)} scenarios read, no mistakes found.")
        return 0
    if not scenarios:
        print("rehearse: no scenario to run.", file=sys.stderr)
        return 2
    if any(s.simulated for s in scenarios) and not args.caller_model:
        print("rehearse: these scenarios need a simulated caller (--caller-model): "
              + ", ".join(s.name for s in scenarios if s.simulated), file=sys.stderr)
        return 2
    return _run(args, scenarios)


def _run(args, scenarios) -> int:
    from django.db.utils import OperationalError, ProgrammingError
    from django.utils import timezone

    from rehearse import bank_db, report, runner, store
    from rehearse.server import ExternalServer, OwnServer

    if not args.no_store:
        from rehearse.models import Run

        try:
            Run.objects.exists()
        except (OperationalError, ProgrammingError):
            print("rehearse: the results' tables are missing: run `python manage.py migrate` (or pass --no-store).",
                  file=sys.stderr)
            return 2
    options = runner.Options(repeat=max(1, args.repeat), first_word_ms=args.first_word_ms,
                             standin_url=args.script_standin)
    if args.caller_model or args.judge_model:
        from rehearse import bedrock

        options.caller = bedrock.SimulatedCaller(args.caller_model, args.caller_endpoint) if args.caller_model else None
        options.judge = bedrock.Judge(args.judge_model, args.caller_endpoint) if args.judge_model else None
    if args.base_url:
        server = ExternalServer(args.base_url, args.api_key, database_url=args.database_url, sms_path=args.sms_file,
                                cache_url=args.cache_url if args.reset_bank else None)
        server.outbound_api_key = args.outbound_api_key
        options.bank_database = bool(args.database_url)
        options.reset = args.reset_bank
    else:
        server = OwnServer(llm=args.llm, bedrock_endpoint=args.bedrock_endpoint, bedrock_model=args.bedrock_model)
    started_at, started = timezone.now(), time.perf_counter()
    print(f"rehearse: {len(scenarios)} scenarios x {options.repeat} against "
          f"{'a server of its own (' + args.llm + ')' if server.owned else server.url}", flush=True)
    try:
        server.start()
        if server.database_url and options.bank_database:
            bank_db.attach(server.database_url)
        attempts = runner.run(scenarios, server, options, progress=lambda a: print(
            f"  {'ok  ' if a.passed else 'FAIL'} {a.scenario.name} [{a.number}] {a.seconds:.1f} s", flush=True))
    finally:
        bank_db.detach()
        server.stop()
    models = Counter(turn["model"] for a in attempts for turn in a.transcript if turn.get("model"))
    model = models.most_common(1)[0][0] if models else server.model_label
    instructions = runner.instruction_hash()
    print()
    print(report.summary(attempts, model=model, instructions=instructions, seconds=time.perf_counter() - started))
    if args.junit:
        report.junit(attempts, args.junit, model=model)
        print(f"JUnit XML: {args.junit}")
    if not args.no_store:
        run = store.save(attempts, started_at=started_at, model=model, instruction_hash=instructions,
                         server="own" if server.owned else server.url, repeat=options.repeat,
                         caller_model=args.caller_model or "", judge_model=args.judge_model or "", label=args.label)
        print(f"Stored as run {run.pk}: /console/rehearsals/{run.pk}/")
    return 0 if all(a.passed for a in attempts) else 1


if __name__ == "__main__":
    sys.exit(main())
