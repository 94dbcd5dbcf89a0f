"""What an assistant persists of one pane, so that a respawned one resumes without repeats."""

from __future__ import annotations

import json
from collections.abc import Mapping

import attrs

__all__ = ["PaneMemo"]

JSONObject = Mapping[str, object]


def _object(value: object) -> JSONObject | None:
    return value if isinstance(value, dict) else None


def _strings(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


@attrs.frozen(kw_only=True)
class PaneMemo:
    """A pane's resume point: its last capture's tail, state machine, recent safe lines, prompt.

    The nested objects are the JSON of their owners (`Capture`, `StateTracker`, an analyzer),
    which read them back; this value only guarantees their shape.  Text in it is redacted.
    """

    capture: JSONObject | None = None
    tracker: JSONObject | None = None
    analyzer: JSONObject | None = None
    recent: tuple[str, ...] = ()
    prompt: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "capture": self.capture,
            "tracker": self.tracker,
            "analyzer": self.analyzer,
            "recent": list(self.recent),
            "prompt": self.prompt,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json())

    @classmethod
    def from_json(cls, data: object) -> PaneMemo:
        """A memo from stored JSON; a part of the wrong shape (an older Steward's) is dropped."""
        if not isinstance(data, dict):
            return cls()
        prompt = data.get("prompt")
        return cls(
            capture=_object(data.get("capture")),
            tracker=_object(data.get("tracker")),
            analyzer=_object(data.get("analyzer")),
            recent=_strings(data.get("recent")),
            prompt=prompt if isinstance(prompt, str) else None,
        )

    @classmethod
    def loads(cls, text: str) -> PaneMemo:
        try:
            return cls.from_json(json.loads(text))
        except ValueError:
            return cls()
