"""Typed settings in one place.

Every setting can come from the environment with the ``VIDENT_`` prefix (``VIDENT_DATA``,
``VIDENT_DB``, ``VIDENT_MAX_PIXELS`` ...). ``docs/configuration.md`` documents each one and a
test keeps that page in step with this class.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Limits(BaseSettings):
    """Bounds that keep hostile or broken input from exhausting the machine.

    Seized material is adversarial by nature: archives may be bombs, headers may lie about
    sizes. Each limit turns such input into a recorded error for that item, never a crash.
    """

    model_config = SettingsConfigDict(env_prefix="VIDENT_", extra="ignore")

    max_pixels: int = Field(
        default=200_000_000, gt=0, description="Largest image (width x height) that is decoded."
    )
    max_file_bytes: int = Field(
        default=4 * 1024**3, gt=0, description="Largest single file or archive member that is read."
    )
    max_archive_depth: int = Field(
        default=4, ge=0, description="How deep archives nested inside archives are opened."
    )
    max_archive_members: int = Field(
        default=100_000, gt=0, description="Most members read from one archive."
    )
    max_archive_total_bytes: int = Field(
        default=16 * 1024**3, gt=0, description="Most uncompressed bytes read from one archive."
    )
    max_compression_ratio: float = Field(
        default=200.0,
        gt=0,
        description="Largest uncompressed/compressed ratio of an archive member (zip bombs).",
    )
    ratio_check_min_bytes: int = Field(
        default=1024 * 1024,
        ge=0,
        description="Members smaller than this are not checked against the ratio limit.",
    )


class Settings(Limits):
    """Where data lives and how matching behaves."""

    data: Path = Field(default=Path("vident-data"), description="The data directory.")
    max_upload_bytes: int = Field(
        default=64 * 1024**3,
        gt=0,
        description="Largest seizure (archive or file) the API accepts in one upload.",
    )
    disk_reserve_bytes: int = Field(
        default=1024**3,
        ge=0,
        description="Free space an upload must leave on the data directory's disk.",
    )
    db: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default SQLite file inside the data directory.",
    )
    pdq_threshold: int = Field(
        default=31,
        ge=0,
        le=256,
        description="Largest PDQ Hamming distance that counts as a near duplicate.",
    )
    pdq_min_quality: int = Field(
        default=50,
        ge=0,
        le=100,
        description="PDQ hashes of lower quality are stored but never matched.",
    )
    signals: str = Field(
        default="pdq,keypoints,scene,face,text",
        description=(
            "Picture signals computed at ingest, comma-separated (hashes are always computed); "
            "`vident ingest --signals` overrides it for one run."
        ),
    )
    face_model: str = Field(
        default="facenet",
        description=(
            "Face model: `dlib`, `facenet`, or the path of your own ONNX face embedder "
            "(optionally `path.onnx?size=112&mean=127.5&std=127.5`)."
        ),
    )
    model_cache: Path | None = Field(
        default=None,
        description=(
            "Where models converted on first use are kept (default `models` in the data directory)."
        ),
    )
    batch_size: int = Field(default=256, ge=1, description="Results committed per transaction.")
    workers: int = Field(default=0, ge=0, description="Ingest worker processes (0: one per core).")
    max_hashset_line: int = Field(
        default=1024 * 1024,
        gt=0,
        description=(
            "Longest line of a CSV/TSV or plain hash list, and largest VICS Media, in characters; "
            "a longer one is rejected and read past without being held in memory."
        ),
    )
    operator: str | None = Field(
        default=None,
        max_length=200,
        description=(
            "Name of the local operator the command line acts as, recorded in the audit trail; "
            "default: the login name."
        ),
    )
    max_hashset_field: int = Field(
        default=64 * 1024,
        gt=0,
        description=(
            "Longest CSV/TSV cell (characters) or VICS string (bytes) in a hash list; "
            "the record holding a longer one is rejected."
        ),
    )
    instance: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description=(
            "This instance's name among its peers, fixed by `vident init` with its keys "
            "(lowercase letters, digits, '.', '_', '-'); default: the host's name."
        ),
    )
    peer_requests_per_minute: int = Field(
        default=120,
        ge=1,
        description="Requests one peer may make here a minute (push, pull, match); more get 429.",
    )
    peer_timeout: float = Field(
        default=60.0, gt=0, description="Seconds to wait for a peer's answer before retrying."
    )
    alert_command: str | None = Field(
        default=None,
        max_length=1000,
        description=(
            "A command run once per hit on one of this instance's alerts, the hit as JSON on "
            "its standard input (e.g. a script that e-mails the alert's agency); no shell."
        ),
    )
    category_votes_needed: int = Field(
        default=3,
        ge=1,
        le=100,
        description=(
            "Agreeing analysts' votes that make a media's category under a scheme (3, as CAID)."
        ),
    )

    @property
    def database_url(self) -> str:
        """The store's URL: the configured one, else SQLite inside the data directory."""
        if self.db:
            return self.db
        return f"sqlite:///{(self.data / 'vident.db').resolve()}"

    @property
    def model_dir(self) -> Path:
        """Models converted on first use: the configured cache, else inside the data directory."""
        return self.model_cache if self.model_cache is not None else self.data / "models"

    @property
    def index_dir(self) -> Path:
        return self.data / "index"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space for spooled archive members: inside the data directory, by rule."""
        return self.data / "tmp"
