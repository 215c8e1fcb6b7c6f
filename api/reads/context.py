"""A request's read consistency: the token it sent back (if any) and where its reads ran. Kept in
a context variable set by api/reads/middleware.py, so read paths that take no request (the
GraphQL planner's ``acquire``) route by it too."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

TOKEN_HEADER = "Consistency-Token"


@dataclass(frozen=True)
class Token:
    """A committed write's position: the primary's WAL position (which replica may serve the
    reader) and its event sequence (which response-cache entries may)."""

    lsn: int
    seq: int

    def __str__(self) -> str:
        return f"{self.lsn >> 32:X}/{self.lsn & 0xFFFFFFFF:X}:{self.seq}"

    @classmethod
    def parse(cls, text: str | None) -> Token | None:
        """``"16/B374D848:5123"`` → Token; None for anything else (a bad token is ignored, as if absent:
        the reader then gets a plain read, which says how stale it is)."""
        if not text:
            return None
        try:
            lsn_text, seq_text = text.strip().rsplit(":", 1)
            high, low = lsn_text.split("/")
            lsn = (int(high, 16) << 32) | int(low, 16)
            seq = int(seq_text)
        except ValueError:
            return None
        if lsn < 0 or seq < 0 or lsn >= 1 << 64:
            return None
        return cls(lsn, seq)

    def covers(self, other: Token | None) -> bool:
        return other is None or (self.lsn >= other.lsn and self.seq >= other.seq)


@dataclass(slots=True)  # one per request: slots, and no set until something is read
class ReadContext:
    token: Token | None = None
    force_primary: bool = False
    # Where this request's reads ran ("primary", "replica1", …) and the largest lag among them.
    sources: frozenset[str] = frozenset()
    lag_ms: float = 0.0
    # A lower bound of the event sequence the reads' data includes (None: only the primary was
    # read, which has everything committed). The response cache stamps entries with it.
    visible_seq: int | None = None
    replica_failed: bool = False

    def settle(self, source: str, lag_ms: float, visible_seq: int | None) -> None:
        if source not in self.sources:
            self.sources = self.sources | {source}
        self.lag_ms = max(self.lag_ms, lag_ms)
        if visible_seq is not None:
            self.visible_seq = visible_seq if self.visible_seq is None else min(self.visible_seq, visible_seq)

    @property
    def source(self) -> str | None:
        return ", ".join(sorted(self.sources)) if self.sources else None


_CURRENT: contextvars.ContextVar[ReadContext | None] = contextvars.ContextVar("newsfacts_read_context", default=None)


def current() -> ReadContext:
    """This request's ReadContext (a fresh, token-less one outside a request: CLI, background work)."""
    ctx = _CURRENT.get()
    return ctx if ctx is not None else ReadContext()


def enter(ctx: ReadContext) -> contextvars.Token[ReadContext | None]:
    return _CURRENT.set(ctx)


def leave(reset: contextvars.Token[ReadContext | None]) -> None:
    _CURRENT.reset(reset)
