"""Categorisation by agreement: analysts vote, and a media's category is the one that reaches
the number of agreeing votes the settings ask for (three, as in CAID), per scheme."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select

from vident.service.context import Context
from vident.service.domain import READ, WRITE, checked_name, visible_media_id
from vident.service.schemas import Model
from vident.service.use_case import use_case
from vident.store.models_cases import CategoryVote


class VoteOut(Model):
    scheme: str
    category: str
    voter: str
    at: datetime


class CategoryOut(Model):
    """The votes on one media under one scheme, and the category they agree on (if any)."""

    media: str
    scheme: str
    needed: int
    agreed: str | None
    tally: dict[str, int]
    votes: list[VoteOut]


@use_case("category.vote", WRITE)
def vote_category(ctx: Context, sha256: str, scheme: str, category: str) -> CategoryOut:
    """The principal's vote that media ``sha256`` is ``category`` under ``scheme``; a second
    vote by the same principal replaces the first."""
    scheme = checked_name("category scheme", scheme, 32)
    category = checked_name("category", category, 64)
    with ctx.store.session() as session:
        found = visible_media_id(ctx, session, sha256)
        vote = session.scalar(
            select(CategoryVote).where(
                CategoryVote.media_id == found,
                CategoryVote.scheme == scheme,
                CategoryVote.voter == ctx.principal.name,
            )
        )
        if vote is None:
            session.add(
                CategoryVote(
                    media_id=found, scheme=scheme, category=category, voter=ctx.principal.name
                )
            )
        else:
            vote.category = category
    return show_category(ctx, sha256, scheme)


@use_case("category.show", READ)
def show_category(ctx: Context, sha256: str, scheme: str) -> CategoryOut:
    """The votes on media ``sha256`` under ``scheme`` and the agreed category, if any."""
    needed = ctx.settings.category_votes_needed
    with ctx.store.reader() as session:
        found = visible_media_id(ctx, session, sha256)
        votes = session.scalars(
            select(CategoryVote)
            .where(CategoryVote.media_id == found, CategoryVote.scheme == scheme)
            .order_by(CategoryVote.at, CategoryVote.id)
        ).all()
    tally = Counter(v.category for v in votes)
    agreed = [c for c, n in tally.items() if n >= needed]
    return CategoryOut(
        media=sha256.strip().lower(),
        scheme=scheme,
        needed=needed,
        # Two categories can both reach a low threshold: then nothing is agreed.
        agreed=agreed[0] if len(agreed) == 1 else None,
        tally=dict(sorted(tally.items())),
        votes=[
            VoteOut(scheme=v.scheme, category=v.category, voter=v.voter, at=v.at) for v in votes
        ],
    )
