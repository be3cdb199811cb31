"""`hookline prune`: delete finished work older than an age (shared.retention says what goes and what never does)."""

from __future__ import annotations

import click

from shared.cli.db_commands import echo_result, json_option


@click.command()
@click.option("--older-than", "older_than", required=True, metavar="AGE",
              help="30d, 36h, 2w (a bare number is days); at least 1d")
@click.option("--dry-run", is_flag=True, help="count what would go; change nothing")
@click.option("--keep-artifacts", is_flag=True, help="delete the artifact rows but keep their files on disk")
@json_option
def prune(older_than: str, dry_run: bool, keep_artifacts: bool, as_json: bool) -> None:
    """Delete jobs, pipelines, attempts, callbacks, artifacts (and files), deliveries, sent outbox rows and
    idempotency records that finished more than AGE ago, and the embedded broker's consumed messages.

    Never touches unfinished work; the ledger's daily totals are kept (`hookline costs` shows the same totals
    after a prune). The beat runs it once a day when HOOKLINE_RETENTION_DAYS is set."""
    from shared.cli.submit import database_settings
    from shared.errors import ValidationError
    from shared.retention import parse_age
    from shared.retention import prune as run_prune
    from shared.schema_check import require_current_schema

    try:
        age = parse_age(older_than)
    except ValidationError as exc:
        raise click.BadParameter(str(exc).removeprefix("--older-than: "), param_hint="--older-than") from None
    settings = database_settings()
    require_current_schema(settings)
    report = run_prune(settings, age, dry_run=dry_run, keep_artifacts=keep_artifacts)
    verb = "would delete" if dry_run else "deleted"
    lines = [f"{verb} (finished before {report.cutoff.isoformat(timespec='seconds')}):"]
    lines += [f"  {table:<18} {count}" for table, count in sorted(report.rows.items()) if count]
    if len(lines) == 1:
        lines.append("  nothing")
    if keep_artifacts:
        lines.append("  artifact files kept (--keep-artifacts)")
    else:
        lines.append(f"  files {report.files} ({report.file_bytes} bytes)")
    lines += [f"  could not delete {error}" for error in report.file_errors]
    echo_result(as_json, report.as_json(), "\n".join(lines))
