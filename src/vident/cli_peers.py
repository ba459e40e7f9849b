"""Commands of the interconnect: this instance's identity, its peers, sync, remote match, bundles.

Registered on the ``vident`` application when :mod:`vident.cli` imports this module; each
command calls one use case of :mod:`vident.service` and prints what it returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vident.cli_base import _context, _errors, _settings, _table, app, err, out

peer_app = typer.Typer(
    help="Other vident instances: national databases and hubs.", no_args_is_help=True
)
bundle_app = typer.Typer(
    help="Exchange by file when there is no network between two instances.", no_args_is_help=True
)
alert_app = typer.Typer(
    help="Alerts: be told when watched material turns up in another agency's seizure.",
    no_args_is_help=True,
)
app.add_typer(peer_app, name="peer")
app.add_typer(alert_app, name="alert")
app.add_typer(bundle_app, name="bundle")


@peer_app.command("identity")
def peer_identity(ctx: typer.Context) -> None:
    """This instance's name, public key and fingerprint: give them to a peer's administrator."""
    from vident.service.peers import instance_identity

    with _errors(), _context(_settings(ctx)) as context:
        me = instance_identity(context)
    for line in (f"name: {me.name}", f"key: {me.key}", f"fingerprint: {me.fingerprint}"):
        out.print(line, highlight=False)


@peer_app.command("add")
def peer_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The peer's instance name.")],
    url: Annotated[str, typer.Argument(help="Its base URL (https://, or http:// on loopback).")],
    key: Annotated[str, typer.Argument(help="Its public key (vident peer identity there).")],
    role: Annotated[
        str, typer.Option("--role", help="hub (we push and pull) or national (it does).")
    ] = "hub",
    reach: Annotated[
        str,
        typer.Option(
            "--reach",
            help="national: it gets national and international material; international: only that.",
        ),
    ] = "international",
) -> None:
    """Trust another instance; compare the fingerprint printed with its administrator's."""
    from vident.service.peers import add_peer

    with _errors(), _context(_settings(ctx)) as context:
        peer = add_peer(context, name, url, key, role=role, reach=reach)
    out.print(
        f"peer {peer.name} added: {peer.role}, receives {peer.reach} material, "
        f"fingerprint {peer.fingerprint}",
        highlight=False,
    )


@peer_app.command("list")
def peer_list(ctx: typer.Context) -> None:
    """Every peer, its cursors and the outcome of the last contact."""
    from vident.service.peers import list_peers

    with _errors(), _context(_settings(ctx)) as context:
        peers = list_peers(context).peers
    table = _table("peer", "role", "reach", "allowed", "pushed to", "pulled to", "last contact")
    for peer in peers:
        contact = peer.last_contact.strftime("%Y-%m-%d %H:%M") if peer.last_contact else ""
        if peer.last_error:
            contact += f" ({peer.last_error[:60]})"
        table.add_row(
            peer.name,
            peer.role,
            peer.reach,
            "yes" if peer.allowed else "no",
            str(peer.push_cursor),
            str(peer.pull_cursor),
            contact,
        )
    out.print(table)


def _allow(ctx: typer.Context, name: str, allowed: bool) -> None:
    from vident.service.peers import update_peer

    with _errors(), _context(_settings(ctx)) as context:
        peer = update_peer(context, name, allowed=allowed)
    out.print(f"peer {peer.name} {'allowed' if peer.allowed else 'refused'}", highlight=False)


@peer_app.command("allow")
def peer_allow(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Put a peer back on the allow-list."""
    _allow(ctx, name, True)


@peer_app.command("deny")
def peer_deny(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Refuse a peer's requests from now on (like an unknown key), keeping its cursors."""
    _allow(ctx, name, False)


@peer_app.command("remove")
def peer_remove(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Forget a peer; the records it sent stay in hash set peer:<origin>."""
    from vident.service.peers import remove_peer

    with _errors(), _context(_settings(ctx)) as context:
        remove_peer(context, name)
    out.print(f"peer {name} removed", highlight=False)


@peer_app.command("sync")
def peer_sync(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The peer (a hub).")],
    retries: Annotated[
        int, typer.Option("--retries", min=0, max=20, help="Tries again when the peer is down.")
    ] = 5,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=1000, help="Records a message.")
    ] = 1000,
) -> None:
    """Push this instance's shared changes to a peer, then pull its changes.

    Stopped half-way (the peer went down), the same command goes on from the last batch that
    went through and duplicates nothing."""
    from vident.service.exchange_sync import sync_peer

    def progress(what: str, count: int) -> None:
        err.print(f"{what}: {count} records", highlight=False)

    with _errors(), _context(_settings(ctx)) as context:
        done = sync_peer(context, name, retries=retries, batch=batch, progress=progress)
    out.print(
        f"{done.peer}: pushed {done.pushed} records in {done.push_batches} messages "
        f"({done.pushed_result.added} new there), pulled {done.pulled} "
        f"({done.pulled_result.added} new, {done.pulled_result.changed} changed, "
        f"{done.pulled_result.withdrawn} withdrawn here); cursors {done.push_cursor} "
        f"pushed, {done.pull_cursor} pulled",
        highlight=False,
    )


@peer_app.command("match")
def peer_match(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The source whose hashes are sent.")],
    peer: Annotated[str, typer.Option("--peer", help="The peer that answers.")],
    private: Annotated[
        bool,
        typer.Option(
            "--private",
            help="Exact hashes only, by private set intersection: the peer sees only matches.",
        ),
    ] = False,
) -> None:
    """Match a source's hashes (never its pictures) at a peer; triage then shows what matched."""
    from vident.service.exchange_sync import match_source

    with _errors(), _context(_settings(ctx)) as context:
        done = match_source(context, source, peer, private=private)
    how = f"privately, {done.revealed} shown in the clear" if done.private else "in the clear"
    out.print(
        f"{done.source}: {done.hashes} hashes matched at {done.peer} ({how}), "
        f"{done.matches} matches, {done.records.added + done.records.changed} records taken",
        highlight=False,
    )


@bundle_app.command("export")
def bundle_export(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The bundle file to write.")],
    peer: Annotated[str, typer.Option("--peer", help="The peer it is sealed for.")],
    since: Annotated[
        int | None,
        typer.Option(
            "--since", min=0, help="Sequence number to start after (default: last bundle)."
        ),
    ] = None,
) -> None:
    """Write the changes for a peer into a file signed here and encrypted for it alone."""
    from vident.service.exchange_sync import export_bundle

    with _errors(), _context(_settings(ctx)) as context:
        done = export_bundle(context, peer, file, since=since)
    out.print(
        f"{done.file}: {done.records} records for {done.peer} "
        f"(changes {done.since} to {done.upto})",
        highlight=False,
    )


@bundle_app.command("import")
def bundle_import(
    ctx: typer.Context, file: Annotated[Path, typer.Argument(help="A bundle from a peer.")]
) -> None:
    """Verify a peer's bundle and apply it; a bundle imported twice is applied once."""
    from vident.service.exchange_sync import import_bundle

    with _errors(), _context(_settings(ctx)) as context:
        done = import_bundle(context, file)
    if done.already_imported:
        out.print(f"{file}: already imported from {done.peer}, nothing applied", highlight=False)
        return
    out.print(
        f"{file}: {done.records} records from {done.peer} ({done.result.added} new, "
        f"{done.result.changed} changed, {done.result.withdrawn} withdrawn)",
        highlight=False,
    )


@alert_app.command("add")
def alert_add(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="What the alert is about.")],
    series: Annotated[str | None, typer.Option("--series", help="A series to watch.")] = None,
    hashes: Annotated[
        list[str] | None,
        typer.Option("--hash", help="A hash to watch, md5:HEX, sha1:HEX or sha256:HEX."),
    ] = None,
    sharing: Annotated[
        str, typer.Option("--sharing", help="How far its hashes travel: national, international.")
    ] = "international",
) -> None:
    """Watch a series or hashes: a hit by another agency, here or on a connected instance,
    names that agency and whom to call there."""
    from vident.service.alerts import add_alert

    with _errors(), _context(_settings(ctx)) as context:
        made = add_alert(context, label, series=series, hashes=hashes, sharing=sharing)
    watched = f"series {made.series}" if made.series else ""
    if made.hashes:
        watched += f"{' and ' if watched else ''}{made.hashes} hashes"
    out.print(f"alert {made.id} set: {made.label} ({watched}, {made.sharing})", highlight=False)


@alert_app.command("list")
def alert_list(ctx: typer.Context) -> None:
    """Your agency's alerts."""
    from vident.service.alerts import list_alerts

    with _errors(), _context(_settings(ctx)) as context:
        alerts = list_alerts(context).alerts
    table = _table("id", "label", "series", "hashes", "sharing", "active")
    for alert in alerts:
        table.add_row(
            str(alert.id),
            alert.label,
            alert.series or "",
            str(alert.hashes),
            alert.sharing,
            "yes" if alert.active else "no",
        )
    out.print(table)


@alert_app.command("remove")
def alert_remove(ctx: typer.Context, alert_id: Annotated[int, typer.Argument()]) -> None:
    """Stop an alert (peers learn it at the next exchange)."""
    from vident.service.alerts import remove_alert

    with _errors(), _context(_settings(ctx)) as context:
        removed = remove_alert(context, alert_id)
    out.print(f"alert {removed.id} stopped", highlight=False)


@alert_app.command("hits")
def alert_hits(
    ctx: typer.Context,
    unseen: Annotated[bool, typer.Option("--unseen", help="Only hits not acknowledged.")] = False,
) -> None:
    """Hits of your agency's alerts, and hits your seizures made on others' alerts."""
    from vident.service.alerts import list_alert_hits

    with _errors(), _context(_settings(ctx)) as context:
        hits = list_alert_hits(context, unseen).hits
    table = _table("id", "alert", "hit by", "contact", "hash", "when", "seen")
    for hit in hits:
        who = f"{hit.hit_agency} ({hit.hit_country or '?'}) on {hit.hit_instance}"
        table.add_row(
            str(hit.id),
            f"{hit.label} [{hit.alert}]",
            who,
            hit.hit_contact or "",
            f"{hit.kind}:{hit.value[:16]}...",
            hit.at.strftime("%Y-%m-%d %H:%M"),
            "yes" if hit.seen_at else ("no" if hit.mine else "sent"),
        )
    out.print(table)


@alert_app.command("seen")
def alert_seen(ctx: typer.Context, hit_id: Annotated[int, typer.Argument()]) -> None:
    """Acknowledge a hit of one of your agency's alerts."""
    from vident.service.alerts import mark_hit_seen

    with _errors(), _context(_settings(ctx)) as context:
        hit = mark_hit_seen(context, hit_id)
    out.print(f"hit {hit.id} acknowledged", highlight=False)


@alert_app.command("scan")
def alert_scan(ctx: typer.Context) -> None:
    """Look for new hits of every alert among the stored media now (ingest, sync, match and
    bundle import do this themselves)."""
    from vident.service.alerts import run_alert_scan

    with _errors(), _context(_settings(ctx)) as context:
        found = run_alert_scan(context)
    out.print(f"{found.hits} new hits of this instance's alerts", highlight=False)
