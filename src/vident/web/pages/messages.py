"""Every message the page scripts show, translated with the rest of the page.

The scripts (``static/js/*.js``) show flash messages, labels they change and errors; they
never hold English text themselves. Each page carries this table as a JSON data block
(``<script type="application/json" id="vident-messages">``, which a browser does not run),
and ``vident.t(key, values)`` in ``vident.js`` looks a message up and fills its ``%(name)s``
placeholders. A key the table lacks shows as itself, so a missing message is seen, not hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from vident.web.pages.translate import _

__all__ = ["MESSAGES", "messages"]

_MESSAGES: dict[str, str] = {
    # vident.js: the shared calls to the API
    "api.status": _("the server answered %(status)s"),
    # triage.js: the triage grid
    "triage.added": _("Added %(n)s items to series %(series)s."),
    "triage.category": _("category %(category)s"),
    "triage.my-vote": _("your vote: %(category)s"),
    "triage.voted": _("Category %(category)s recorded for %(n)s items."),
    "triage.reviewed": _("reviewed"),
    "triage.marked": _("Marked %(n)s items reviewed."),
    "triage.unmarked": _("%(n)s items no longer marked reviewed."),
    "triage.count": _("%(n)s selected"),
    "triage.none": _("Nothing selected"),
    "triage.nothing": _("Select items first (x), or focus one."),
    "triage.no-key": _("No category on key %(key)s."),
    "triage.no-preview": _("This item has no preview."),
    "triage.readonly": _("Your role reads only: nothing was changed."),
    "triage.selected": _("selected"),
    "triage.selected-one": _("%(name)s selected."),
    "triage.unselected-one": _("%(name)s no longer selected."),
    "triage.show": _("Show items"),
    "triage.hide": _("Hide items"),
    "triage.expanded": _("Series %(series)s shown."),
    "triage.collapsed": _("Series %(series)s folded."),
    "triage.revealed": _("%(name)s revealed."),
    "triage.veiled": _("%(name)s veiled."),
    # media.js: the media viewer, region search and clues
    "media.box-drawn": _("Box drawn: %(x)s, %(y)s, %(w)s × %(h)s pixels."),
    "media.preview-of": _("Preview of %(name)s"),
    "media.compare": _("compare"),
    "media.searching": _("Searching…"),
    "media.preview-unread": _("the preview could not be read (%(status)s)"),
    "media.result-one": _("%(n)s result"),
    "media.results": _("%(n)s results"),
    "media.box-outside": _("The box reaches beyond the picture (%(w)s × %(h)s pixels)."),
    # people.js: person candidates
    "people.moved": _("Faces moved to person %(person)s"),
    "people.merged": _("Person %(from)s merged into person %(into)s"),
    "people.already": _("The selected faces are that person's already."),
    "people.split": _("Faces split off as a new person"),
    # search.js: the search page
    "search.bits": _("%(n)s bits apart"),
    "search.score": _("score %(score)s"),
    "search.hashset": _("hash set %(name)s"),
    "search.category": _("category %(name)s"),
    "search.series": _("series %(name)s"),
    "search.source": _("in %(name)s"),
    "search.identified": _("identified: %(name)s"),
    "search.preview-of": _("Preview of %(name)s"),
    "search.reveal": _("Reveal"),
    "search.choose-file": _("Choose one picture or video."),
    "search.searching": _("Searching…"),
    "search.file-summary": _("%(file)s: %(verdict)s, %(n)s reasons"),
    "search.file-summary-error": _("%(file)s: %(verdict)s, %(n)s reasons (%(error)s)"),
    "search.no-hash": _("Paste at least one SHA-256 hash."),
    "search.bad-hash": _("Not a SHA-256 hash (64 hex digits): %(word)s"),
    "search.too-many": _("Paste at most %(n)s hashes at once."),
    "search.looking-up": _("Looking up %(n)s hashes…"),
    "search.hash-summary": _("%(found)s of %(n)s hashes are stored media."),
    "search.no-word": _("Type a word to look for."),
    "search.searching-text": _("Searching text…"),
    "search.text-summary": _("%(n)s pictures show text matching %(query)s"),
    "search.frame": _("frame %(frame)s: %(snippet)s"),
    # upload.js: the upload page
    "upload.one-file": _(
        "One file per upload: pack the %(n)s files into one archive (zip, tar) and drop that."
    ),
    "upload.too-large": _("The file is larger than this server accepts (%(size)s)."),
    "upload.chosen": _("Chosen: %(name)s (%(size)s)"),
    "upload.megabytes": _("%(mb)s MB"),
    "upload.files": _("%(done)s of %(total)s files"),
    "upload.unreadable": _("%(n)s could not be read"),
    "upload.eta": _("about %(seconds)s s left"),
    "upload.done": _("The ingest of %(source)s is done."),
    "upload.failed": _("the ingest failed"),
    "upload.no-source": _("Give the source a name."),
    "upload.no-file": _("Choose or drop one file or archive to upload."),
    "upload.progress": _("%(sent)s of %(total)s"),
    "upload.sent": _("sent"),
    "upload.interrupted": _("The upload was interrupted: check the connection and start it again."),
    # admin.js: users and API tokens
    "admin.user-added": _("Added %(username)s: hand over the enrolment below."),
    "admin.token-created": _("Created the token %(name)s."),
    # wellbeing.js: the break reminder
    "wellbeing.dismiss": _("Dismiss"),
    "wellbeing.hours": _("%(hours)s h %(minutes)s min"),
    "wellbeing.minutes": _("%(minutes)s min"),
    "wellbeing.reminder": _(
        "You have been working for %(time)s in this session. "
        "Time for a short break away from the screen?"
    ),
}

#: Every script message, key -> text (read-only).
MESSAGES: Mapping[str, str] = MappingProxyType(_MESSAGES)


def messages() -> dict[str, str]:
    """The script messages as a plain dict, ready for ``tojson`` in the layout."""
    return dict(MESSAGES)
