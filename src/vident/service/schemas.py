"""The JSON contract shared by several resources: why one thing matches another.

Every interface shows "A matches B because X" with this one model, whatever found it: an exact
hash, PDQ, a verified crop, a video, a face, a scene, a camera or a text. Resource-specific
results live in the module of their resource and embed it.
"""

from __future__ import annotations

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)


class Model(BaseModel):
    """Base of every service result: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ReasonOut(Model):
    """One reason a media or file matches something known or stored."""

    signal: str = Field(description="What found it: md5, sha1, sha256, pdq, keypoints, face ...")
    distance: int = Field(description="Bits apart for PDQ, 0 for exact hashes, else 0.")
    hashset: str | None = Field(default=None, description="The hash set matched, if any.")
    media: str | None = Field(default=None, description="SHA-256 of the stored media matched.")
    source: str | None = Field(default=None, description="The source that media came from.")
    category: str | None = None
    series: str | None = None
    score: float | None = Field(default=None, description="Strength of a learned link, 0..1.")
    detail: dict[str, JsonValue] | None = Field(default=None, description="The evidence.")
    identified: str | None = Field(
        default=None,
        description="Who identified the victim of the matched media's series, where and when.",
    )
    where: str | None = Field(
        default=None,
        description="For a picture verified by local features: which part of the known picture "
        "it shows, or where in it the known picture lies, and how it was turned.",
    )

    @model_serializer(mode="wrap")
    def _identified_only_when_known(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, JsonValue]:
        """Leave ``identified`` and ``where`` out unless known: reasons of material in no
        identified series, and of hashes, read exactly as before."""
        shown: dict[str, JsonValue] = handler(self)
        for key in ("identified", "where"):
            if shown.get(key, ...) is None:
                del shown[key]
        return shown
