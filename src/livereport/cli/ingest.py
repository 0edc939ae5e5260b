"""`livereport ingest` and `livereport simulate`: events into livereport, from files (through
a server, or into the data directory opened in this process) or simulated traffic."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from livereport import instance
from livereport.cli.common import (
    SERVER_URL,
    config_of,
    err,
    failures,
    on_data_directory,
    place_options,
    server_to_ask,
)
from livereport.events import Channel


@click.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["canonical", "ajo"]),
    default="canonical",
    show_default=True,
    help="canonical: livereport events, one JSON object per line; ajo: exported records of the reference product's message feedback and tracking datasets, one per line.",
)
@place_options(
    "ingest", org_help="Org to ingest into (with --data; default: the first org).", url_help=None
)
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(1, 10_000))
def ingest(
    files: tuple[Path, ...],
    fmt: str,
    data: Path | None,
    org: str | None,
    url: str | None,
    key: str | None,
    batch: int,
) -> None:
    """Load NDJSON event files (.gz too) with a progress bar and a summary of rejections."""
    from livereport.ingest.load import load_files

    with failures():
        server = server_to_ask(data, url, key, org, running=True)
        loader: Callable[..., Any] = load_files
        if fmt == "ajo":
            from livereport.ingest.ajo import load_ajo_files

            loader = load_ajo_files
        if server is not None:
            summary = loader(files, batch=batch, url=server[0], key=server[1])
        else:
            # The org's own bounce rules apply to canonical events, as on a server.
            rules = {} if fmt == "ajo" else {"metadata": instance.open_metadata(config_of(data))}
            summary = on_data_directory(
                data,
                lambda store, org_id: loader(files, batch=batch, store=store, org=org_id, **rules),
                org,
                writes=True,
            )
    for why, count in sorted(getattr(summary, "skipped", {}).items()):
        err.print(f"  skipped {count}: {why}", markup=False)
    err.print(
        f"{summary.lines} lines: [green]{summary.accepted} accepted[/], "
        f"{summary.duplicates} duplicates, [red]{len(summary.rejected)} rejected[/]"
    )
    for where, errors in summary.rejected[:20]:
        err.print(f"  {where}: {'; '.join(errors)}", markup=False)
    if len(summary.rejected) > 20:
        err.print(f"  … and {len(summary.rejected) - 20} more")


@click.command()
@click.option("--url", required=True, type=SERVER_URL, help="The server's base URL.")
@click.option("--key", required=True, help="An API key with the ingest scope.")
@click.option("--campaign", default="simulated-campaign", show_default=True)
@click.option(
    "--rate",
    default=500,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Events per second.",
)
@click.option(
    "--duration",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds; 0 runs until interrupted.",
)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    type=click.Choice([c.value for c in Channel]),
    help="Channels to simulate (repeat; default all).",
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress bar (there is none either when standard error is not a terminal).",
)
@click.option(
    "--incident",
    "incidents",
    multiple=True,
    metavar="KIND[:key=value,...]",
    help="Make the traffic go wrong, to see alerts fire: bounce-storm, complaint-spike or stall, with keys channel, start, duration (seconds, or 30s/5m/1h), share (0.4 or 40%) and domain; e.g. bounce-storm:start=2m,duration=5m (repeat for several).",
)
def simulate(
    url: str,
    key: str,
    campaign: str,
    rate: int,
    duration: float,
    seed: int,
    channels: tuple[str, ...],
    quiet: bool,
    incidents: tuple[str, ...],
) -> None:
    """Send realistic campaign traffic to a running instance."""
    from livereport import simulate as sim

    try:
        planned = [sim.Incident.parse(spec) for spec in incidents]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--incident") from None
    with failures(), _sending(campaign, duration, quiet or not err.is_terminal) as on_batch:
        totals = sim.run(
            url,
            key,
            campaign=campaign,
            rate=rate,
            duration=duration or None,
            seed=seed,
            channels=channels or None,
            on_batch=on_batch,
            incidents=planned,
        )
    err.print(
        f"{campaign}: {totals['accepted']:,} accepted, {totals['duplicates']:,} duplicates, "
        f"{totals['rejected']:,} rejected",
        markup=False,
    )


@contextmanager
def _sending(
    campaign: str, duration: float, quiet: bool
) -> Iterator[Callable[[list[Any], dict[str, int]], None] | None]:
    """What `simulate` shows while it runs: a progress bar on standard error (time, of the
    duration, and the events sent and how the server took them), gone once it ends."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[counts]}"),
    )
    began = time.monotonic()
    sums = {"sent": 0, "accepted": 0, "duplicates": 0, "rejected": 0}
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(campaign, total=duration or None, counts="starting")

        def on_batch(events: list[Any], counts: dict[str, int]) -> None:
            sums["sent"] += len(events)
            for name, count in counts.items():
                sums[name] += count
            progress.update(
                task,
                completed=time.monotonic() - began,
                counts=f"{sums['sent']:,} sent: {sums['accepted']:,} accepted, "
                f"{sums['duplicates']:,} duplicates, {sums['rejected']:,} rejected",
            )

        yield on_batch
